"""Sans-IO Server-Sent Events decoder following the WHATWG "event stream" rules.

Fed raw bytes as they come off the socket, it returns the complete events they finish; it
never touches a socket, an event loop or a clock.
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

    __slots__ = ("_buf", "_data", "_event", "_last_id", "_retry", "_skip_lf", "_start")

    def __init__(self) -> None:
        self._buf = b""  # an incomplete line carried over between feeds
        self._start = True  # still before the first bytes (BOM check pending)
        self._skip_lf = False  # the last feed ended in CR: a leading LF belongs to it
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""
        self._retry: int | None = None

    @property
    def last_event_id(self) -> str | None:
        """The last event ID buffer now in force (None when empty)."""
        return self._last_id or None

    def reset(self) -> None:
        """Forget all buffered input and state."""
        self.__init__()  # type: ignore[misc]

    def close(self) -> None:
        """End of stream: an unterminated last event is discarded, per the standard."""
        self.reset()

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Consume bytes; return the events completed by them, in order."""
        if not data:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        if self._buf:
            data = self._buf + data
            self._buf = b""
        if self._start:
            if len(data) < 3 and _BOM.startswith(data):
                self._buf = data
                return []
            self._start = False
            if data.startswith(_BOM):
                data = data[3:]
        if b"\r" in data:
            if data.endswith(b"\r"):
                self._skip_lf = True
            lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        else:
            lines = data.split(b"\n")
        self._buf = lines.pop()  # the part after the last line ending (maybe empty)
        out: list[ServerSentEvent] = []
        for raw in lines:
            if not raw:
                if self._data:
                    out.append(
                        ServerSentEvent(
                            self._event or "message",
                            "\n".join(self._data),
                            self._last_id or None,
                            self._retry,
                        )
                    )
                    self._data = []
                self._event = ""
                self._retry = None
                continue
            line = raw.decode("utf-8", "replace")
            if line[0] == ":":
                continue
            name, colon, value = line.partition(":")
            if colon and value[:1] == " ":
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id":
                if "\x00" not in value:
                    self._last_id = value
            elif name == "retry":
                if value and value.isascii() and value.isdigit():
                    self._retry = int(value)
        return out
