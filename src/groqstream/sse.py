"""Sans-IO Server-Sent Events decoder following the WHATWG "event stream" rules.

Fed raw bytes as they come off the socket, it returns the complete events they finish; it
never touches a socket, an event loop or a clock. Bytes are kept raw until the blank line
that ends an event arrives, then whole events are split out with `bytes` methods, so a
multi-byte character or a CRLF split across reads needs no special care.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"


@dataclass(slots=True)
class ServerSentEvent:
    """One dispatched event: its type, data, the last event ID in force, and its retry value."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        """The data decoded as JSON."""
        return orjson.loads(self.data)


class SSEDecoder:
    """Incremental SSE parser: `feed(bytes)` returns the events those bytes complete."""

    __slots__ = ("_buf", "_last_id", "_skip_lf", "_start")

    def __init__(self) -> None:
        self._buf = b""  # line-ending-normalised bytes of the event not yet complete
        self._start = True  # no byte seen yet: a leading BOM is still to be stripped
        self._skip_lf = False  # the previous feed ended in CR: a leading LF belongs to it
        self._last_id = ""

    @property
    def last_event_id(self) -> str | None:
        """The last event ID dispatched with an event (None when empty)."""
        return self._last_id or None

    def reset(self) -> None:
        """Forget all buffered input and state."""
        self._buf = b""
        self._start = True
        self._skip_lf = False
        self._last_id = ""

    def close(self) -> None:
        """End of stream: an unterminated last event is discarded, per the standard."""
        self.reset()

    def _blocks(self, data: bytes) -> list[bytes]:
        """Add bytes to the buffer; return the complete event blocks (each without its
        terminating blank line), keeping the incomplete rest buffered."""
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        if b"\r" in data:
            self._skip_lf = data[-1:] == b"\r"
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf = self._buf + data if self._buf else data
        if self._start:
            if len(buf) < 3 and _BOM.startswith(buf):
                self._buf = buf
                return []
            self._start = False
            if buf[:3] == _BOM:
                buf = buf[3:]
        if buf[:1] == b"\n":
            # A blank line right at an event boundary dispatches nothing; drop such lines so
            # that every block below starts with a field line.
            buf = buf.lstrip(b"\n")
        blocks = buf.split(b"\n\n")
        self._buf = blocks.pop()
        return blocks

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Consume bytes; return the events completed by them, in order."""
        if not data:
            return []
        out: list[ServerSentEvent] = []
        for block in self._blocks(data):
            ev = self._event(block)
            if ev is not None:
                out.append(ev)
        return out

    def feed_payloads(self, data: bytes) -> list[ServerSentEvent | bytes]:
        """Like `feed`, but a plain event (one `data: ` line, default type, no id or retry)
        comes back as its raw data bytes: the allocation-light form the stream reader uses."""
        if not data:
            return []
        if not self._start and not self._skip_lf and b"\r" not in data:
            # The common case, a run of `data: <payload>` events and nothing else, split in
            # one pass: every LF then belongs to a "\n\ndata: " separator or the final "\n\n".
            buf = self._buf + data if self._buf else data
            end = buf.rfind(b"\n\n")
            if end < 0:
                self._buf = buf
                return []
            if buf.startswith(b"data: ") and buf.count(b"\n", 0, end) == 2 * buf.count(
                b"\n\ndata: ", 0, end
            ):
                self._buf = buf[end + 2 :]
                return buf[6:end].split(b"\n\ndata: ")  # type: ignore[return-value]
            self._buf = b""
            data = buf
        out: list[ServerSentEvent | bytes] = []
        for block in self._blocks(data):
            if block[:6] == b"data: " and b"\n" not in block:
                out.append(block[6:])
                continue
            ev = self._event(block)
            if ev is not None:
                out.append(ev)
        return out

    def _event(self, block: bytes) -> ServerSentEvent | None:
        """Interpret one complete block of lines; the event it dispatches, if any."""
        data: list[str] = []
        event = ""
        retry: int | None = None
        for raw in block.split(b"\n"):
            if not raw:
                # Blank lines inside a block only occur after lstrip at the buffer start;
                # within split("\n\n") output they cannot, so this is a dispatch boundary.
                continue
            line = raw.decode("utf-8", "replace")
            if line[0] == ":":
                continue
            name, colon, value = line.partition(":")
            if colon and value[:1] == " ":
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
            elif name == "id":
                if "\x00" not in value:
                    self._last_id = value
            elif name == "retry" and value.isascii() and value.isdigit():
                retry = int(value)
        if not data:
            return None
        return ServerSentEvent(event or "message", "\n".join(data), self._last_id or None, retry)
