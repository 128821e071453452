"""TLS contexts that resume sessions: a new pooled connection to a host already seen skips the
full handshake.

DESIGN: beside `_pool.py`, whose TLS connections run the handshake themselves on
`client_context(verify)` (or a caller's own context): `TLSConnection` creates its TLS object
with `SSLContext.wrap_bio(..., server_hostname=...)`, and `ResumingContext.wrap_bio` passes
the last good session for that host as `session=`. (The connection stamps when TCP was up:
the handshake starts there, so its cost splits into connect and TLS with any context.)
The pool hands a connection's session back with `SessionCache.keep` after its first
response: with TLS 1.3 the tickets arrive after the handshake, so not at connect.
"""

from __future__ import annotations

import collections
import functools
import os
import ssl
from typing import Any

from .errors import ConfigError

__all__ = [
    "MAX_TLS_HOSTS",
    "ResumingContext",
    "SessionCache",
    "client_context",
]

MAX_TLS_HOSTS = 256
"""Hosts whose last TLS session a context keeps (least recently stored first out)."""


class SessionCache:
    """The last resumable TLS session per server name, at most `limit` names (LRU)."""

    __slots__ = ("_sessions", "limit")

    def __init__(self, limit: int = MAX_TLS_HOSTS) -> None:
        self.limit = limit
        self._sessions: collections.OrderedDict[str, ssl.SSLSession] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, host: str) -> ssl.SSLSession | None:
        """The session to offer `host`, or None."""
        return self._sessions.get(host)

    def keep(self, ssl_object: Any) -> bool:
        """Store the session of a connection's `ssl.SSLObject` if it can be resumed (a TLS
        1.3 session only once its ticket arrived); True if it was stored."""
        host = getattr(ssl_object, "server_hostname", None)
        session = getattr(ssl_object, "session", None)
        if not host or session is None or not _resumable(session, ssl_object):
            return False
        sessions = self._sessions
        sessions[host] = session
        sessions.move_to_end(host)
        while len(sessions) > self.limit:
            sessions.popitem(last=False)
        return True


def _resumable(session: ssl.SSLSession, ssl_object: Any) -> bool:
    if session.has_ticket:
        return True
    # TLS 1.2 servers may resume by session id alone; TLS 1.3 ones only by ticket.
    return bool(session.id) and ssl_object.version() != "TLSv1.3"


class ResumingContext(ssl.SSLContext):
    """A client `ssl.SSLContext` that offers each host its last session (see
    `SessionCache`)."""

    sessions: SessionCache

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        """`SSLContext.wrap_bio`, offering the host's last session when none is given."""
        if session is None and not server_side and isinstance(server_hostname, str):
            session = self.sessions.get(server_hostname)
        return super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)


@functools.lru_cache(maxsize=8)
def client_context(verify: bool | str) -> ResumingContext:
    """The resuming client context for `verify`: True (the system's CAs, or those named by
    `SSL_CERT_FILE`/`SSL_CERT_DIR`), False (no verification), or the path of a CA bundle.

    One per setting per process, so every `Client` to a host shares its sessions (OpenSSL
    only resumes a session with the context that made it). Settings as aiohttp's own.
    """
    if isinstance(verify, str) and not os.path.isfile(verify):
        raise ConfigError(f"verify= names no CA bundle file: {verify!r}")
    ctx = ResumingContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.sessions = SessionCache()
    if verify is False:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_default_verify_paths()
    elif isinstance(verify, str):
        try:
            ctx.load_verify_locations(cafile=verify)
        except (ssl.SSLError, OSError) as e:
            raise ConfigError(f"cannot load the CA bundle {verify!r}: {e}") from None
    else:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    ctx.options |= ssl.OP_NO_COMPRESSION
    ctx.set_alpn_protocols(("http/1.1",))
    return ctx
