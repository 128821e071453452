"""Sans-IO incremental JSON: fed text in pieces, it keeps a growing value and says which
paths just completed. Total work is linear in the document.

DESIGN: a floor module beside `sse.py` — no IO, no clock. `PartialJSON.feed(text)` scans
only the new text (plus the few characters of a token split across feeds): every character
is looked at a bounded number of times, so a document streamed in 4-byte deltas costs about
what parsing it once does, where re-parsing the buffer on every delta (what openai-python's
partial mode does) costs the square of its length. `value` is the live object being built:
objects and arrays are mutated in place as members arrive; a string still arriving shows the
text so far (materialised once per `feed`, so a single huge string costs its length per feed
while it is open); numbers, `true`, `false` and `null` appear once complete. `feed` returns
the paths (tuples of keys and indices) of the values that completed in that text, innermost
first, the root last as `()`.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ProtocolError

__all__ = ["PartialJSON", "PartialJSONError", "Path"]

Path = tuple[str | int, ...]


class PartialJSONError(ProtocolError):
    """The text is not (the beginning of) one JSON value."""


_WS = re.compile(r"[ \t\n\r]*")
_PLAIN = re.compile(r'[^"\\]*')
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NUM_CHARS = re.compile(r"[-+.eE0-9]+")
_INT = re.compile(r"-?[0-9]+")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS = {"t": ("true", True), "f": ("false", False), "n": ("null", None)}

# Parser states (what the next significant character may be).
_VALUE = 0  # a value
_VALUE_OR_CLOSE = 1  # a value or `]` (just after `[`)
_KEY_OR_CLOSE = 2  # a key or `}` (just after `{`)
_KEY = 3  # a key (after `,` in an object)
_COLON = 4  # `:` after a key
_NEXT = 5  # `,` or the container's closing bracket
_STRING = 6  # inside a string
_END = 7  # the root is complete: only whitespace may follow


class PartialJSON:
    """Incremental parser for one JSON value (an object, usually) arriving in pieces.

    ``p = PartialJSON(); for piece in pieces: done = p.feed(piece); use(p.value)``; call
    `close()` at the end to check the document is whole. `PartialJSONError` for text that
    cannot be (the start of) JSON; `max_depth` bounds nesting.
    """

    __slots__ = (
        "_buf",
        "_containers",
        "_keys",
        "_max_depth",
        "_state",
        "_str_is_key",
        "_str_parts",
        "complete",
        "value",
    )

    def __init__(self, *, max_depth: int = 512) -> None:
        self.value: Any = None
        self.complete = False
        self._max_depth = max_depth
        self._buf = ""
        self._state = _VALUE
        self._containers: list[Any] = []  # open objects/arrays, outermost first
        self._keys: list[str | int] = []  # the key/index each open container is at
        self._str_parts: list[str] = []
        self._str_is_key = False

    # --- public --------------------------------------------------------------------------

    def feed(self, text: str) -> list[Path]:
        """Take the next piece of the document; return the paths completed by it."""
        buf = self._buf + text if self._buf else text
        done: list[Path] = []
        pos = self._run(buf, 0, done, final=False)
        self._buf = buf[pos:]
        if self._state == _STRING and not self._str_is_key:
            self._show_string()
        return done

    def close(self) -> list[Path]:
        """The document ended: finish a trailing number; `PartialJSONError` if incomplete."""
        done: list[Path] = []
        if self._buf:
            pos = self._run(self._buf, 0, done, final=True)
            self._buf = self._buf[pos:]
        if not self.complete:
            raise PartialJSONError("the JSON document ended before it was complete")
        return done

    def path(self) -> Path:
        """Where the parser is: the keys/indices of the open containers."""
        return tuple(self._keys)

    # --- the scanner ---------------------------------------------------------------------

    def _run(self, buf: str, pos: int, done: list[Path], *, final: bool) -> int:
        """Scan `buf` from `pos`; return where an unfinished token starts (or the end)."""
        n = len(buf)
        while pos < n:
            if self._state == _STRING:
                pos = self._string(buf, pos, done)
                if self._state == _STRING:
                    return pos  # the string goes on in the next piece
                continue
            pos = _WS.match(buf, pos).end()  # type: ignore[union-attr]
            if pos >= n:
                break
            new = self._token(buf, pos, done, final)
            if new < 0:
                return pos  # an unfinished number or literal: wait for more
            pos = new
        return pos

    def _token(self, buf: str, pos: int, done: list[Path], final: bool) -> int:
        """Take the token at `pos` (not whitespace); where it ends, or -1 if unfinished."""
        state = self._state
        c = buf[pos]
        if state in (_VALUE, _VALUE_OR_CLOSE):
            if c == "]" and state == _VALUE_OR_CLOSE:
                return self._close(pos + 1, done)
            return self._value(buf, pos, done, final)
        if state in (_KEY_OR_CLOSE, _KEY):
            if c == '"':
                self._open_string(key=True)
                return pos + 1
            if c == "}" and state == _KEY_OR_CLOSE:
                return self._close(pos + 1, done)
            raise self._error("an object key", c, pos)
        if state == _COLON:
            if c != ":":
                raise self._error("':'", c, pos)
            self._state = _VALUE
            return pos + 1
        if state == _NEXT:
            return self._after_value(c, pos, done)
        raise self._error("the end of the document", c, pos)

    def _after_value(self, c: str, pos: int, done: list[Path]) -> int:
        top = self._containers[-1]
        if c == ",":
            if type(top) is dict:
                self._state = _KEY
            else:
                self._keys[-1] = len(top)
                self._state = _VALUE
            return pos + 1
        if c == ("}" if type(top) is dict else "]"):
            return self._close(pos + 1, done)
        raise self._error("',' or a closing bracket", c, pos)

    def _value(self, buf: str, pos: int, done: list[Path], final: bool) -> int:
        """Start or read one value at `pos`; -1 if it is an unfinished number/literal."""
        c = buf[pos]
        if c == '"':
            self._open_string(key=False)
            return pos + 1
        if c == "{" or c == "[":
            self._open(c, done)
            return pos + 1
        if c == "-" or "0" <= c <= "9":
            end = _NUM_CHARS.match(buf, pos).end()  # type: ignore[union-attr]
            if end == len(buf) and not final:
                return -1  # more digits may follow
            if _NUMBER.fullmatch(buf, pos, end) is None:
                raise self._error("a number", buf[pos:end], pos)
            text = buf[pos:end]
            num: int | float = int(text) if _INT.fullmatch(text) else float(text)
            self._scalar(num, done)
            return end
        lit = _LITERALS.get(c)
        if lit is not None:
            word, v = lit
            have = buf[pos : pos + len(word)]
            if have == word:
                self._scalar(v, done)
                return pos + len(word)
            if word.startswith(have) and not final:
                return -1
        raise self._error("a value", c, pos)

    # --- strings -------------------------------------------------------------------------

    def _open_string(self, *, key: bool) -> None:
        self._str_parts = []
        self._str_is_key = key
        self._state = _STRING
        if not key:
            self._place("")

    def _string(self, buf: str, pos: int, done: list[Path]) -> int:
        parts = self._str_parts
        n = len(buf)
        while pos < n:
            end = _PLAIN.match(buf, pos).end()  # type: ignore[union-attr]
            if end > pos:
                parts.append(buf[pos:end])
                pos = end
            if pos >= n:
                return pos
            if buf[pos] == '"':
                self._end_string(done)
                return pos + 1
            # an escape: `\x` or `\uXXXX` (a surrogate pair: two of them)
            used = self._escape(buf, pos, parts)
            if used == 0:
                return pos  # incomplete: keep it for the next piece
            pos += used
        return pos

    def _escape(self, buf: str, pos: int, parts: list[str]) -> int:
        """Decode the escape at `pos` into `parts`; its length, or 0 if cut off."""
        if pos + 1 >= len(buf):
            return 0
        e = buf[pos + 1]
        simple = _ESCAPES.get(e)
        if simple is not None:
            parts.append(simple)
            return 2
        if e != "u":
            raise self._error("an escape", "\\" + e, pos)
        if pos + 6 > len(buf):
            return 0
        code = self._hex(buf[pos + 2 : pos + 6], pos)
        if 0xD800 <= code < 0xDC00:  # a high surrogate: its low half follows
            if pos + 12 > len(buf):
                return 0
            if buf[pos + 6 : pos + 8] == "\\u":
                low = self._hex(buf[pos + 8 : pos + 12], pos)
                if 0xDC00 <= low < 0xE000:
                    parts.append(chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)))
                    return 12
        parts.append(chr(code))
        return 6

    def _hex(self, digits: str, pos: int) -> int:
        try:
            return int(digits, 16)
        except ValueError:
            raise self._error("4 hex digits", digits, pos) from None

    def _show_string(self) -> None:
        """Put the text of the string still arriving into `value` (once per feed)."""
        parts = self._str_parts
        if len(parts) > 1:
            parts[:] = ["".join(parts)]
        self._place(parts[0] if parts else "")

    def _end_string(self, done: list[Path]) -> None:
        text = "".join(self._str_parts)
        self._str_parts = []
        if self._str_is_key:
            self._keys[-1] = text
            self._state = _COLON
            return
        self._place(text)
        self._completed(done)

    # --- building the value --------------------------------------------------------------

    def _place(self, v: Any) -> None:
        """Set the value at the current position (replacing a partial string there)."""
        containers = self._containers
        if not containers:
            self.value = v
            return
        top = containers[-1]
        key = self._keys[-1]
        if type(top) is dict:
            top[key] = v
        elif key == len(top):
            top.append(v)
        else:
            top[key] = v

    def _scalar(self, v: Any, done: list[Path]) -> None:
        self._place(v)
        self._completed(done)

    def _open(self, bracket: str, done: list[Path]) -> None:
        if len(self._containers) >= self._max_depth:
            raise PartialJSONError(f"JSON nested deeper than {self._max_depth}")
        container: Any = {} if bracket == "{" else []
        self._place(container)
        self._containers.append(container)
        self._keys.append(0)
        self._state = _KEY_OR_CLOSE if bracket == "{" else _VALUE_OR_CLOSE

    def _close(self, pos: int, done: list[Path]) -> int:
        self._containers.pop()
        self._keys.pop()
        self._completed(done)
        return pos

    def _completed(self, done: list[Path]) -> None:
        """The value at the current position is whole: record its path."""
        keys = self._keys
        if not self._containers:
            done.append(())
            self.complete = True
            self._state = _END
            return
        done.append(tuple(keys))
        self._state = _NEXT

    def _error(self, expected: str, got: str, pos: int) -> PartialJSONError:
        return PartialJSONError(f"invalid JSON: expected {expected}, got {got[:20]!r}")
