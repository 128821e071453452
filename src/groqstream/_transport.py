"""The thin IO layer: one aiohttp session, request sending, status → typed error, deadlines.

DESIGN: above the sans-IO core and `_aiohttp_compat.py`, below `stream.py` and `client.py`.
Everything protocol-shaped is decided by the core; this module moves bytes, turns aiohttp's
failures into groqstream's error hierarchy, and refuses what must not go on the wire (a key
over cleartext to another host, a header with CR/LF, a redirect to anywhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import ipaddress
import logging
import math
import re
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import anyio
import orjson

from ._aiohttp_compat import CURRENT, ConnStamps, StampingConnector, open_idle, tune_reads
from ._body import check_header_value
from ._gcfreeze import freeze_on_first_client
from ._tls import client_context
from ._version import __version__
from .chunks import error_from_payload
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigError,
    ConnectTimeout,
    ContentTypeError,
    EventTooLargeError,
    FirstByteTimeout,
    GroqStreamError,
    RedirectError,
    TotalTimeout,
    WrongEventLoopError,
    body_snippet,
    bounded,
)

__all__ = [
    "CHAT_PATH",
    "DEFAULT_DNS_TTL",
    "DEFAULT_KEEPALIVE_IDLE",
    "READ_ERRORS",
    "Deadlines",
    "Timeouts",
    "Transport",
    "checked_headers",
    "is_loopback",
    "parse_retry_after",
]

log = logging.getLogger("groqstream")

_ERROR_BODY_LIMIT = 16 * 1024
CHAT_PATH = "/chat/completions"
# What a lost connection raises while a request is sent or its body is read.
READ_ERRORS = (aiohttp.ClientError, OSError, asyncio.IncompleteReadError)
_INF = math.inf

DEFAULT_KEEPALIVE_IDLE = 15.0
"""Seconds a pooled connection may sit idle before the client closes it: below the idle
cut-offs of common load balancers and servers (AWS ALB 60 s, nginx 75 s, aiohttp 75 s), so
the client, not the server, ends an idle connection. Servers with shorter cut-offs (Node's
and uvicorn's 5 s) are covered by the stale re-send."""
DEFAULT_DNS_TTL = 10.0
"""Seconds a DNS answer is used before the host is resolved again."""
# What a request that was written to a reused connection and got no response byte back
# fails with: the server had closed the idle connection as the request went out.
_STALE = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Timeouts in seconds; None disables one.

    - `connect`: opening the TCP (and TLS) connection.
    - `first_byte`: from sending the request to the response headers and, for a stream, to
      the first token (content, reasoning or tool-call text).
    - `idle`: longest gap between data events once tokens flow; keep-alive comments don't
      count, bytes of an event still arriving do (so a slow drip is alive).
    - `total`: one whole attempt, stream included; a `TotalTimeout` is never retried.

    `first_byte` and `idle` bound streams; a non-streaming reply only comes when the whole
    answer is ready, so `total` alone bounds `complete()`.
    """

    connect: float | None = 10.0
    first_byte: float | None = 60.0
    idle: float | None = 30.0
    total: float | None = 600.0

    def __post_init__(self) -> None:
        for name in ("connect", "first_byte", "idle", "total"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ConfigError(f"timeout {name} must be a number of seconds or None")
            if v is not None and not v > 0:
                raise ConfigError(f"timeout {name} must be positive (None disables it), got {v}")


@dataclass(frozen=True, slots=True)
class Deadlines:
    """One attempt's deadlines: `first_byte` and `total` as absolute instants on the event
    loop's clock (inf: none), and `idle`, the seconds a stream may go without a sign of life
    once tokens flow (None: no limit).

    Created when the attempt starts; whoever arms a timer asks for the instant and gets the
    error kind with it, so a timeout is never relabelled after the fact.
    """

    first_byte: float
    total: float
    idle: float | None

    @classmethod
    def start(cls, t: Timeouts, now: float, *, stream: bool = True) -> Deadlines:
        """Deadlines of an attempt starting at `now`. A non-streaming reply only comes when
        the whole answer is ready, so only `total` bounds it."""
        first = now + t.first_byte if stream and t.first_byte is not None else _INF
        return cls(first, now + t.total if t.total is not None else _INF, t.idle)

    def first(self) -> tuple[float, type[APITimeoutError]]:
        """The instant that ends the wait for headers and first token, and what it raises."""
        if self.total <= self.first_byte:
            return self.total, TotalTimeout
        return self.first_byte, FirstByteTimeout


if sys.version_info >= (3, 11):

    def deadline_at(due: float) -> AbstractAsyncContextManager[object]:
        """A scope that raises TimeoutError at event-loop instant `due` (inf: never); the
        standard library's on 3.11+, cheaper per request than anyio's."""
        return asyncio.timeout_at(None if due == _INF else due)

else:  # pragma: no cover - Python 3.10

    @contextlib.asynccontextmanager
    async def deadline_at(due: float) -> AsyncIterator[None]:
        """A scope that raises TimeoutError at event-loop instant `due` (inf: never)."""
        left = None if due == _INF else max(0.0, due - asyncio.get_running_loop().time())
        with anyio.fail_after(left):
            yield


def timeout_error(kind: type[APITimeoutError], t: Timeouts) -> APITimeoutError:
    """The error a deadline of `kind` raises, saying which limit passed."""
    if kind is TotalTimeout:
        return TotalTimeout(
            f"the request exceeded its total timeout of {t.total}s", timeout=t.total
        )
    if kind is FirstByteTimeout:
        return FirstByteTimeout(
            f"no token within the first-byte timeout of {t.first_byte}s", timeout=t.first_byte
        )
    return kind(f"no data from the server for {t.idle}s (idle timeout)", timeout=t.idle)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks us to wait: `retry-after-ms`, else `retry-after` (seconds or an
    HTTP date); None if absent or unreadable."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        pass
    try:
        import datetime as _dt

        when = parsedate_to_datetime(ra)
        return max(0.0, (when - _dt.datetime.now(when.tzinfo)).total_seconds())
    except (TypeError, ValueError, IndexError):
        return None


def is_loopback(url: str) -> bool:
    """True if `url` points at this machine (such servers need no API key): `localhost` or a
    loopback IP address (127.0.0.0/8, ::1) — not a name that merely starts with "127."."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)


def html_text(page: str, limit: int = 300) -> str:
    """An HTML error page reduced to its visible text, cut to `limit` characters."""
    text = " ".join(html.unescape(_TAGS.sub(" ", page)).split())
    return text if len(text) <= limit else text[:limit] + "…"


def checked_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Extra headers as a plain dict, every name and value refused if it holds a control
    character (see `check_header_value`)."""
    out = {}
    for name, value in (headers or {}).items():
        check_header_value(f"header {name!r}", name)
        out[name] = check_header_value(f"the value of header {name!r}", value)
    return out


def _check_seconds(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")


def _stale(e: BaseException, info: ConnStamps) -> bool:
    """True if `e` means the request met a pooled connection the server had already closed:
    the connection was reused, this request was not re-sent yet, and no byte of a response
    came back (a disconnect with part of a status line or headers is a real failure)."""
    if not info.reused or info.stale_resend:
        return False
    if isinstance(e, aiohttp.ServerDisconnectedError):
        # aiohttp puts the part of a response it had parsed in `message`, else a string.
        return e.message is None or isinstance(e.message, str)
    return True


def _check_url(base_url: str, has_key: bool, allow_insecure_http: bool) -> None:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            "base_url must not hold a user name or password (user:pass@host): they would be "
            "sent, logged and shown in errors; pass the key as api_key= or headers= instead"
        )
    if parts.scheme == "http" and has_key and not is_loopback(base_url) and not allow_insecure_http:
        raise ConfigError(
            f"refusing to send the API key in cleartext to {parts.scheme}://{parts.netloc}: use "
            "https://, or pass allow_insecure_http=True if this network is really trusted"
        )


class Transport:
    """Owns the aiohttp session and sends requests; knows nothing about SSE or chunks."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        headers: Mapping[str, str] | None,
        timeouts: Timeouts,
        max_connections: int | None,
        verify: bool | str | ssl.SSLContext = True,
        allow_insecure_http: bool = False,
        keepalive_idle: float = DEFAULT_KEEPALIVE_IDLE,
        dns_ttl: float = DEFAULT_DNS_TTL,
    ) -> None:
        _check_seconds("keepalive_idle", keepalive_idle)
        _check_seconds("dns_ttl", dns_ttl)
        if not isinstance(verify, (bool, str, ssl.SSLContext)):
            raise ConfigError("verify must be True, False, a CA bundle path or an ssl.SSLContext")
        if api_key is not None:
            check_header_value("the API key", api_key)
        _check_url(base_url, bool(api_key), allow_insecure_http)
        if max_connections is not None and (
            not isinstance(max_connections, int) or max_connections < 1
        ):
            raise ConfigError(f"max_connections must be a positive int or None: {max_connections}")
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self.max_connections = max_connections
        self.keepalive_idle = keepalive_idle
        self.dns_ttl = dns_ttl
        # groqstream's own contexts resume TLS sessions (see _tls.py); a caller's is used as is.
        self._ssl: ssl.SSLContext | None = (
            verify
            if isinstance(verify, ssl.SSLContext)
            else client_context(verify)
            if self.base_url.startswith("https:")
            else None
        )
        self._headers: dict[str, str] = {
            "Content-Type": "application/json",
            "User-Agent": f"groqstream/{__version__}",
        }
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._headers.update(checked_headers(headers))
        self._stream_headers = {**self._headers, "Accept": "text/event-stream"}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fresh: aiohttp.ClientSession | None = None  # for stale re-sends, made on demand
        self._closed = False

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    @property
    def is_open(self) -> bool:
        """True while a session (a pool of connections) exists that is not closed yet."""
        return self._session is not None and not self._session.closed

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared session, created on first use in the running event loop, and used only
        from that loop (`WrongEventLoopError` from any other)."""
        if self._closed:
            raise ConfigError("this client is closed; make a new one")
        if self._session is not None and not self._session.closed:
            if asyncio.get_running_loop() is not self._loop:
                raise WrongEventLoopError(
                    "this client's connection pool was opened in another event loop: make one "
                    "Client per event loop, or `await client.aclose()` before the loop ends"
                )
            return self._session
        self._loop = asyncio.get_running_loop()
        freeze_on_first_client()  # only when the process asked for it: see _gcfreeze
        self._session = self._new_session(pooled=True)
        return self._session

    def _new_session(self, *, pooled: bool) -> aiohttp.ClientSession:
        """A session on a stamping connector: the pool (`pooled`), or one whose connections
        serve one request each (for stale re-sends, which must not meet another stale one)."""
        connector = StampingConnector(
            limit=self.max_connections or 0,  # 0 = no hidden cap (aiohttp defaults to 100)
            limit_per_host=0,
            keepalive_timeout=self.keepalive_idle if pooled else None,
            force_close=not pooled,
            ttl_dns_cache=self.dns_ttl,  # type: ignore[arg-type,unused-ignore]  # a float works
            use_dns_cache=True,
            ssl=self._ssl if self._ssl is not None else True,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=self.timeouts.connect, sock_read=None
            ),
            raise_for_status=False,
            auto_decompress=True,
        )

    async def warm(self, n: int) -> None:
        """Open and handshake connections until `n` wait in the pool (opt-in warm-up), so the
        first `n` concurrent requests pay no connect and no TLS handshake."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"warm-up needs a number of connections >= 0, got {n!r}")
        if not n:
            return
        session = self.session
        try:
            protos = await open_idle(session, self.base_url, n)
        except (TimeoutError, *READ_ERRORS) as e:
            error = self._send_error(e, ConnectTimeout)
        else:
            connector = session.connector
            if isinstance(connector, StampingConnector):
                connector.forget_new()  # a request on a warmed connection paid nothing
            for proto in protos:  # TLS 1.2 sessions, and 1.3 tickets that arrived already
                self._keep_session(proto.transport)
            return
        raise error

    def keep_session(self, resp: aiohttp.ClientResponse) -> None:
        """Remember the TLS session of `resp`'s new connection as it goes back to the pool:
        a TLS 1.3 ticket that came after the response headers is there by then."""
        if self._ssl is not None:
            self._keep_session(resp.connection.transport if resp.connection else None)

    def _keep_session(self, transport: Any) -> None:
        """Remember the TLS session of a new connection for the next one to the host."""
        ctx = self._ssl
        sessions = getattr(ctx, "sessions", None)
        if sessions is not None and transport is not None:
            sessions.keep(transport.get_extra_info("ssl_object"))

    async def aclose(self) -> None:
        """Close the session and every pooled connection; no new one is made after this."""
        self._closed = True
        for session in (self._session, self._fresh):
            if session is not None and not session.closed:
                await session.close()
        self._session = self._fresh = None

    def url(self, path: str) -> str:
        """The full URL of an API path such as `/chat/completions`."""
        return self.base_url + path

    async def post(
        self,
        path: str,
        body: dict[str, Any],
        *,
        stream: bool,
        deadlines: Deadlines,
        extra_headers: Mapping[str, str] | None = None,
        conn: ConnStamps | None = None,
    ) -> aiohttp.ClientResponse:
        """Send a POST and return the response once its headers arrived and its status is OK.

        The wait for the headers ends at `deadlines.first()`. Error statuses, redirects and a
        wrong content type become typed errors; the response is closed in that case. `conn`
        is told what the connection cost (see `ConnStamps`).
        """
        headers = self._stream_headers if stream else self._headers
        if extra_headers:
            headers = {**headers, **checked_headers(extra_headers)}
        url = self.url(path)
        info = conn if conn is not None else ConnStamps()
        resp = await self._send(url, orjson.dumps(body), headers, deadlines, info)
        if info.reused is False and self._ssl is not None:
            self._keep_session(resp.connection.transport if resp.connection else None)
        expected = "text/event-stream" if stream else "application/json"
        try:
            await self._check(resp, url, expected)
        except BaseException:
            resp.close()
            raise
        tune_reads(resp)
        log.debug("POST %s -> %s (%s)", url, resp.status, resp.headers.get("x-request-id"))
        return resp

    async def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        content_type: str = "application/json",
        expect: str | None = "application/json",
        deadlines: Deadlines,
    ) -> aiohttp.ClientResponse:
        """Any other API call (the Files and Batches endpoints): `method` on `path` with the
        same key, TLS, redirect refusal and typed status errors as a chat request. `expect`
        is the content type the reply must have (None: any)."""
        headers = {**self._headers, "Content-Type": content_type}
        url = self.url(path)
        resp = await self._send(
            url, data, headers, deadlines, ConnStamps(), method, resend_stale=method == "GET"
        )
        try:
            await self._check(resp, url, expect, method)
        except BaseException:
            resp.close()
            raise
        log.debug("%s %s -> %s", method, url, resp.status)
        return resp

    async def _send(
        self,
        url: str,
        data: bytes | None,
        headers: dict[str, str],
        deadlines: Deadlines,
        info: ConnStamps,
        method: str = "POST",
        *,
        resend_stale: bool = True,
    ) -> aiohttp.ClientResponse:
        """Send, and wait for the response headers until `deadlines.first()`. A request that
        met a pooled connection the server had just closed is re-sent at once, once, when
        `resend_stale` (chat requests, and GETs); the Files/Batches POSTs say no: a
        connection dropped without a reply does not prove the server never acted on them."""
        due, kind = deadlines.first()
        token = CURRENT.set(info)
        try:
            async with deadline_at(due):
                try:
                    return await self.session.request(
                        method, url, data=data, headers=headers, allow_redirects=False
                    )
                except _STALE as e:
                    if not resend_stale or not _stale(e, info):
                        raise
                return await self._resend(method, url, data, headers, info)
        except (TimeoutError, *READ_ERRORS) as e:
            error = self._send_error(e, kind)
        finally:
            CURRENT.reset(token)
        # Raised here, outside the handler, so that aiohttp's exception (its request info
        # holds the Authorization header) is not kept as the error's __context__.
        raise error

    async def _resend(
        self, method: str, url: str, data: bytes | None, headers: dict[str, str], info: ConnStamps
    ) -> aiohttp.ClientResponse:
        """Send again, at once and once, a request whose reused connection the server had
        closed before answering; on a new connection, so it cannot meet a stale one again.
        Not a retry: the server never saw the request (no backoff, no `max_retries`)."""
        log.debug("a pooled connection to %s was closed by the server: re-sent", self._where())
        info.stale_resend = True
        info.reused = None
        if self._fresh is None or self._fresh.closed:
            self._fresh = self._new_session(pooled=False)
        return await self._fresh.request(
            method, url, data=data, headers=headers, allow_redirects=False
        )

    def _send_error(self, e: BaseException, kind: type[APITimeoutError]) -> GroqStreamError:
        """What a failure to send, or to get the headers, is for the caller."""
        if isinstance(e, aiohttp.ServerTimeoutError):
            return ConnectTimeout(
                f"connecting to {self._where()} took longer than {self.timeouts.connect}s",
                timeout=self.timeouts.connect,
            )
        if isinstance(e, TimeoutError):
            return timeout_error(kind, self.timeouts)
        if isinstance(e, aiohttp.ClientConnectorError):
            return APIConnectionError(f"cannot connect to {self._where()}: {e.os_error}")
        return APIConnectionError(f"connection to {self._where()} failed: {type(e).__name__}")

    async def _check(
        self, resp: aiohttp.ClientResponse, url: str, expected: str | None, method: str = "POST"
    ) -> None:
        if resp.status >= 400:
            raise await self._status_error(resp, url, method)
        if 300 <= resp.status < 400:
            raise self._redirect_error(resp, url, method)
        if expected is not None and resp.content_type != expected:
            raise await self._content_type_error(resp, expected)

    def _where(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    async def _read_text(self, resp: aiohttp.ClientResponse) -> str:
        """An error response's body, up to `_ERROR_BODY_LIMIT` bytes ("" if it cannot be read
        within the idle timeout)."""
        parts: list[bytes] = []
        size = 0
        try:
            with anyio.fail_after(self.timeouts.idle or 30.0):
                while size < _ERROR_BODY_LIMIT and (piece := await resp.content.readany()):
                    parts.append(piece)
                    size += len(piece)
        except (TimeoutError, aiohttp.ClientError, OSError):
            return ""
        return b"".join(parts)[:_ERROR_BODY_LIMIT].decode("utf-8", "replace")

    def _redirect_error(
        self, resp: aiohttp.ClientResponse, url: str, method: str = "POST"
    ) -> RedirectError:
        location = resp.headers.get("Location")
        return RedirectError(
            f"HTTP {resp.status} redirect from {method} {url} to {location!r}: not followed (it "
            "would re-send the prompt and headers); point base_url at the final address",
            status=resp.status,
            location=location,
            request_id=resp.headers.get("x-request-id"),
            headers=dict(resp.headers),
        )

    def _not_found_hint(self, url: str, method: str = "POST") -> str:
        """What a 404 should tell: the URL asked for, and a base URL missing its `/v1`."""
        hint = f" ({method} {url})"
        if not urlsplit(self.base_url).path.rstrip("/").endswith("/v1"):
            hint += f"; the base URL {self.base_url} does not end in /v1 — OpenAI-compatible "
            hint += "servers usually serve /v1/chat/completions"
        return hint

    async def _status_error(
        self, resp: aiohttp.ClientResponse, url: str, method: str = "POST"
    ) -> APIStatusError:
        text = await self._read_text(resp)
        headers = dict(resp.headers)
        rid = resp.headers.get("x-request-id")
        retry_after = parse_retry_after(resp.headers)
        payload: Any
        try:
            payload = orjson.loads(text) if text else None
        except orjson.JSONDecodeError:
            payload = None
        raw_body = not isinstance(payload, dict)
        if raw_body:
            payload = {"error": {"message": self._status_line(resp, text)}}
        err = error_from_payload(
            payload, status=resp.status, request_id=rid, retry_after=retry_after, headers=headers
        )
        if raw_body:
            err.body = bounded(text)
        if resp.status == 404:
            err.message += self._not_found_hint(url, method)
        log.debug("HTTP %s from %s (request %s)", resp.status, self._where(), rid)
        return err

    @staticmethod
    def _status_line(resp: aiohttp.ClientResponse, text: str) -> str:
        """The message for a status whose body is not a JSON error object."""
        ctype = resp.content_type or "no content type"
        message = f"HTTP {resp.status} {resp.reason or ''} ({ctype})".replace("  ", " ")
        if text:
            body = html_text(text) if "html" in ctype else body_snippet(text)
            message += f": {body}"
        return message

    async def _content_type_error(
        self, resp: aiohttp.ClientResponse, expected: str
    ) -> GroqStreamError:
        text = await self._read_text(resp)
        if resp.content_type == "application/json":
            try:
                payload = orjson.loads(text)
            except orjson.JSONDecodeError:
                payload = None
            if isinstance(payload, dict) and "error" in payload:
                return error_from_payload(
                    payload, request_id=resp.headers.get("x-request-id"), headers=dict(resp.headers)
                )
        ctype = resp.content_type or "no content type"
        shown = html_text(text) if "html" in ctype else body_snippet(text)
        return ContentTypeError(
            f"expected {expected} but the server sent {ctype} (status {resp.status}); "
            f"is the base URL right, or is a proxy in the way? Body: {shown!r}",
            status=resp.status,
            content_type=ctype,
            body=text,
        )

    async def whole_reply(
        self, send: Callable[..., Awaitable[aiohttp.ClientResponse]], limit: int
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        """One non-streaming attempt: `send(deadlines=...)` gets the response (`post` or
        `request` with their other arguments bound) and its body is read whole, both within
        the attempt's `total` timeout (`TotalTimeout`), refused past `limit` bytes; a lost
        connection is an `APIConnectionError`. The response is released before this returns."""
        loop = asyncio.get_running_loop()
        deadlines = Deadlines.start(self.timeouts, loop.time(), stream=False)
        left = deadlines.total - loop.time() if deadlines.total != _INF else None
        try:
            with anyio.fail_after(left):
                resp = await send(deadlines=deadlines)
                try:
                    return resp, await self.read_body(resp, limit)
                finally:
                    resp.release()
        except TimeoutError:
            raise timeout_error(TotalTimeout, self.timeouts) from None
        except READ_ERRORS as e:
            raise APIConnectionError(
                f"connection lost reading the reply ({type(e).__name__})"
            ) from e

    async def read_body(self, resp: aiohttp.ClientResponse, limit: int) -> bytes:
        """A whole non-streaming reply, refused past `limit` bytes (a hostile server cannot
        make the client hold an unbounded body)."""
        parts: list[bytes] = []
        size = 0
        while piece := await resp.content.readany():
            size += len(piece)
            if size > limit:
                raise EventTooLargeError(
                    f"the reply exceeded max_event_bytes={limit:,}",
                    limit=limit,
                    line=b"".join(parts)[:200].decode("utf-8", "replace"),
                )
            parts.append(piece)
        return b"".join(parts)
