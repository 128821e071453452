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

from .errors import ConfigError, EventTooLargeError

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
DEFAULT_MAX_EVENT_BYTES = 4 * 1024 * 1024
"""The default bound on one SSE line and one event (4 MiB): far above any real chunk (a few
KiB), low enough that a broken or hostile server cannot make the client buffer a huge line.
Raise it with `Client(max_event_bytes=...)`."""


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
    """Incremental SSE parser: `feed(bytes)` returns the events those bytes complete.

    One event (its lines up to the blank line that ends it) may hold at most
    `max_event_bytes`; past that, `feed` raises `EventTooLargeError` at once, newline or not,
    so a server that sends an endless line cannot grow memory without bound. Bytes of an
    incomplete event are kept as the pieces they arrived in and joined once, when the event
    can end: a long event costs linear, not quadratic, time.
    """

    __slots__ = ("_head", "_last_id", "_parts", "_pending", "_skip_lf", "_start", "max_event_bytes")

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if not isinstance(max_event_bytes, int) or max_event_bytes < 1:
            raise ConfigError(f"max_event_bytes must be a positive int, got {max_event_bytes!r}")
        self.max_event_bytes = max_event_bytes
        self._parts: list[bytes] = []  # line-ending-normalised bytes of the incomplete event
        self._pending = 0  # their total length
        self._head = b""  # the first bytes of the stream while a BOM may still be arriving
        self._start = True  # no byte seen yet: a leading BOM is still to be stripped
        self._skip_lf = False  # the previous feed ended in CR: a leading LF belongs to it
        self._last_id = ""

    @property
    def last_event_id(self) -> str | None:
        """The last event ID dispatched with an event (None when empty)."""
        return self._last_id or None

    @property
    def pending_bytes(self) -> int:
        """How many bytes of an event not yet complete are held."""
        return self._pending

    @property
    def pending_data(self) -> bool:
        """True if the incomplete event held is not just comment lines (a keep-alive
        `: ping` without its blank line does not count)."""
        parts = self._parts
        return bool(parts) and parts[0][:1] != b":"

    def reset(self) -> None:
        """Forget all buffered input and state."""
        self._parts = []
        self._pending = 0
        self._head = b""
        self._start = True
        self._skip_lf = False
        self._last_id = ""

    def close(self) -> None:
        """End of stream: an unterminated last event is discarded, per the standard."""
        self.reset()

    # --- buffering -----------------------------------------------------------------------

    def _join(self, data: bytes) -> bytes | None:
        """The incomplete event held so far plus `data`, joined once; None when `data` cannot
        end an event (it is then only kept, without copying what came before)."""
        parts = self._parts
        if not parts:
            return data
        parts.append(data)
        if b"\n\n" not in data and not (data[:1] == b"\n" and parts[-2][-1:] == b"\n"):
            self._pending += len(data)
            if self._pending > self.max_event_bytes:
                raise self._too_large(self._pending)
            return None
        buf = b"".join(parts)
        self._parts = []
        self._pending = 0
        return buf

    def _keep(self, rest: bytes) -> None:
        """Hold the incomplete tail of the input (nothing is held when this is called)."""
        if rest:
            if len(rest) > self.max_event_bytes:
                raise self._too_large(len(rest))
            self._parts.append(rest)
            self._pending = len(rest)

    def _check_sizes(self, events: list[bytes]) -> None:
        """Complete events that arrived in one piece are bounded too (checked only when the
        whole input was larger than the bound, so never on the common path)."""
        for ev in events:
            if len(ev) > self.max_event_bytes:
                raise self._too_large(len(ev))

    def _too_large(self, size: int) -> EventTooLargeError:
        head = self._parts[0][:200] if self._parts else b""  # no join: it could be the limit
        self.reset()
        return EventTooLargeError(
            f"one server-sent event exceeded max_event_bytes={self.max_event_bytes:,} "
            f"({size:,} bytes and counting); started {head[:80]!r}",
            limit=self.max_event_bytes,
            line=head.decode("utf-8", "replace"),
        )

    def _strip_bom(self, data: bytes) -> bytes:
        """At the stream's start, drop a UTF-8 BOM, even one split across feeds."""
        head = self._head + data
        if len(head) < 3 and _BOM.startswith(head):
            self._head = head
            return b""
        self._start = False
        self._head = b""
        return head[3:] if head[:3] == _BOM else head

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
        if self._start:
            data = self._strip_bom(data)
        if not data:
            return []
        buf = self._join(data)
        if buf is None:
            return []
        if buf[:1] == b"\n":
            # A blank line right at an event boundary dispatches nothing; drop such lines so
            # that every block below starts with a field line.
            buf = buf.lstrip(b"\n")
        blocks = buf.split(b"\n\n")
        self._keep(blocks.pop())
        if len(buf) > self.max_event_bytes:
            self._check_sizes(blocks)
        return blocks

    # --- decoding ------------------------------------------------------------------------

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

    def _whole_events(self, data: bytes) -> bool:
        """True if `data` may be a read of whole plain `data: ` events and nothing else, to
        split in one pass: it starts and ends so, holds no CR, and the decoder is between
        events. (Then the stream does not begin with a byte order mark: `_start` is over.)"""
        if (
            data[-2:] == b"\n\n"
            and data[:6] == b"data: "
            and not (self._parts or self._head or self._skip_lf)
            and b"\r" not in data
        ):
            self._start = False
            return True
        return False

    def one_payload(self, data: bytes) -> bytes | None:
        """The data of a read that is exactly one plain `data: ` event (the network's usual
        read of a token stream), without a list around it; None for any other read, which
        then goes to `feed_payloads` (nothing is consumed)."""
        if (
            self._whole_events(data)
            and data.count(b"\n") == 2
            and len(data) <= self.max_event_bytes
        ):
            return data[6:-2]
        return None

    def feed_payloads(self, data: bytes) -> list[ServerSentEvent | bytes]:
        """Like `feed`, but a plain event (one `data: ` line, default type, no id or retry)
        comes back as its raw data bytes: the allocation-light form the stream reader uses."""
        if self._whole_events(data):
            # The common case: a read of whole `data: <payload>` events and nothing else, split
            # in one pass (every LF then belongs to a "\n\ndata: " separator or the end).
            lines = data.count(b"\n")
            if lines == 2 and len(data) <= self.max_event_bytes:
                return [data[6:-2]]
            payloads = data.split(b"\n\ndata: ")
            if lines == 2 * len(payloads):
                payloads[0] = payloads[0][6:]
                payloads[-1] = payloads[-1][:-2]
                if len(data) > self.max_event_bytes:
                    self._check_sizes(payloads)
                return payloads  # type: ignore[return-value]
        if not data:
            return []
        if not self._start and not self._skip_lf and b"\r" not in data:
            # Events split across reads: the same one-pass split over what is complete.
            buf = self._join(data)
            if buf is None:
                return []
            end = buf.rfind(b"\n\n")
            if end < 0:
                self._keep(buf)
                return []
            run = self._plain_run(buf, end, buf.count(b"\n", 0, end) + 2)
            if run is not None:
                self._keep(buf[end + 2 :])
                return run  # type: ignore[return-value]
            data = buf
        return self._payloads_of_blocks(data)

    def _plain_run(self, buf: bytes, end: int, lines: int) -> list[bytes] | None:
        """The payloads of `buf[:end + 2]` split in one pass when it is nothing but plain
        `data: <payload>` events (then every LF belongs to a "\n\ndata: " separator or the
        final "\n\n"); None otherwise."""
        if not buf.startswith(b"data: ") or lines != 2 * buf.count(b"\n\ndata: ", 0, end) + 2:
            return None
        payloads = buf[6:end].split(b"\n\ndata: ")
        if end > self.max_event_bytes:
            self._check_sizes(payloads)
        return payloads

    def _payloads_of_blocks(self, data: bytes) -> list[ServerSentEvent | bytes]:
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
        fields: dict[str, list[str]] = {"data": [], "event": [], "retry": []}
        for raw in block.split(b"\n"):
            # (Blank lines only occur after the lstrip at the buffer start: nothing to do.)
            if raw and raw[:1] != b":":
                name, colon, value = raw.decode("utf-8", "replace").partition(":")
                if colon and value[:1] == " ":
                    value = value[1:]
                if name == "id":
                    if "\x00" not in value:
                        self._last_id = value
                elif name in fields:
                    fields[name].append(value)
        if not fields["data"]:
            return None
        retries = [int(v) for v in fields["retry"] if v.isascii() and v.isdigit() and len(v) < 16]
        return ServerSentEvent(
            (fields["event"] or [""])[-1] or "message",
            "\n".join(fields["data"]),
            self._last_id or None,
            retries[-1] if retries else None,
        )
