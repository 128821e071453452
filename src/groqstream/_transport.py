"""The thin IO layer: one connection pool, request sending, status → typed error, deadlines.

DESIGN: above the sans-IO core (`_h1.py` for HTTP/1.1) and `_pool.py` (the connections),
below `stream.py` and `client.py`. Everything protocol-shaped is decided by the core; this
module sends requests, turns connection failures into groqstream's error hierarchy, and
refuses what must not go on the wire (a key over cleartext to another host, a header with
CR/LF, a redirect to anywhere).
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import logging
import math
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import orjson

from ._body import check_header_value
from ._gcfreeze import freeze_on_first_client
from ._h1 import TOKEN, HTTPProtocolError, head_block, request_bytes
from ._pool import (
    CannotConnect,
    ConnectTimedOut,
    ConnStamps,
    Disconnected,
    Pool,
    PoolClosed,
    Response,
    deadline_at,
)
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
    "body_lost",
    "checked_headers",
    "is_loopback",
    "parse_retry_after",
]

log = logging.getLogger("groqstream")

_ERROR_BODY_LIMIT = 16 * 1024
CHAT_PATH = "/chat/completions"
# What a lost connection raises while a request is sent or its body is read (OSError holds
# the pool's `Disconnected` and `CannotConnect`).
READ_ERRORS = (OSError, HTTPProtocolError, ConnectTimedOut, PoolClosed)
_INF = math.inf

DEFAULT_KEEPALIVE_IDLE = 15.0
"""Seconds a pooled connection may sit idle before the client closes it: below the idle
cut-offs of common load balancers and servers (AWS ALB 60 s, nginx 75 s, aiohttp 75 s), so
the client, not the server, ends an idle connection. Servers with shorter cut-offs (Node's
and uvicorn's 5 s) are covered by the stale re-send."""
DEFAULT_DNS_TTL = 10.0
"""Seconds a DNS answer is used before the host is resolved again."""


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


# Headers that say how a message is framed or what the connection does: groqstream sets
# them itself; one from a caller beside its own would desynchronise the connection.
_FRAMING = frozenset(
    ("content-length", "transfer-encoding", "connection", "upgrade", "te", "expect", "trailer")
)


def body_lost(e: BaseException, where: str) -> str:
    """Why a body could not be read on (`where`: "mid-stream", ...): a malformed body says
    how, a lost connection names its error."""
    if isinstance(e, HTTPProtocolError):
        return f"the server sent a malformed body ({e})"
    return f"connection lost {where} ({type(e).__name__})"


def checked_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Extra headers as a plain dict: every name a token that is not a framing header,
    every value without control characters (see `check_header_value`)."""
    out = {}
    for name, value in (headers or {}).items():
        check_header_value(f"header {name!r}", name)
        if not TOKEN.fullmatch(name):
            raise ConfigError(f"header name {name!r} is not a valid HTTP token")
        if name.lower() in _FRAMING:
            raise ConfigError(
                f"header {name!r} is set by groqstream itself (it frames the request)"
            )
        out[name] = check_header_value(f"the value of header {name!r}", value)
    return out


def _check_seconds(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")


def _stale(e: Disconnected, info: ConnStamps) -> bool:
    """True if `e` means the request met a pooled connection the server had already closed:
    the connection was reused, this request was not re-sent yet, and no byte of a response
    came back (a disconnect with part of a status line or headers is a real failure)."""
    return bool(info.reused) and not info.stale_resend and e.early


_PATH_SAFE = "/%:@!$&'()*+,;=?~"  # kept as they are in a request target (RFC 3986 pchar)


def _host_header(host: str, port: int | None, https: bool) -> str:
    """The Host header: the name IDNA-encoded (as yarl sent it), IPv6 in brackets, and the
    port only when it is not the scheme's default."""
    try:
        name = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise ConfigError(f"base_url's host name {host!r} is not a valid domain name") from None
    if ":" in name:
        name = f"[{name}]"
    if port is None or port == (443 if https else 80):
        return name
    return f"{name}:{port}"


def _merge(headers: dict[str, str], more: Mapping[str, str]) -> dict[str, str]:
    """`headers` with `more` set on it, names compared without case (the later wins)."""
    for name in more:
        for old in [k for k in headers if k.lower() == name.lower()]:
            del headers[old]
    headers.update(more)
    return headers


def _check_url(base_url: str, has_key: bool, allow_insecure_http: bool) -> None:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            "base_url must not hold a user name or password (user:pass@host): they would be "
            "sent, logged and shown in errors; pass the key as api_key= or headers= instead"
        )
    if parts.query or parts.fragment or base_url.rstrip("/").endswith(("?", "#")):
        raise ConfigError(
            f"base_url must not hold a query or fragment (?… or #…), got {base_url!r}"
        )
    if parts.scheme == "http" and has_key and not is_loopback(base_url) and not allow_insecure_http:
        raise ConfigError(
            f"refusing to send the API key in cleartext to {parts.scheme}://{parts.netloc}: use "
            "https://, or pass allow_insecure_http=True if this network is really trusted"
        )


class Transport:
    """Owns the connection pool and sends requests; knows nothing about SSE or chunks."""

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
            if not api_key.isascii():
                raise ConfigError("the API key holds a character that is not ASCII: refused")
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
        parts = urlsplit(self.base_url)
        https = parts.scheme == "https"
        self._ssl: ssl.SSLContext | None = None
        if https:
            self._ssl = verify if isinstance(verify, ssl.SSLContext) else client_context(verify)
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if https else 80)
        self._prefix = quote(parts.path, safe=_PATH_SAFE)
        self._chat_target = self._prefix + CHAT_PATH  # (quote() costs µs: not per stream)
        self._where_text = f"{parts.scheme}://{parts.netloc}"
        self._headers: dict[str, str] = {
            "Host": _host_header(self._host, parts.port, https),
            "User-Agent": f"groqstream/{__version__}",
            "Accept": "*/*",
            "Content-Type": "application/json",
            "Accept-Encoding": "gzip, deflate",
        }
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        _merge(self._headers, checked_headers(headers))
        # A token stream is sent as it is made: compressing it would hold tokens back.
        stream_headers = {**self._headers, "Accept": "text/event-stream"}
        _merge(stream_headers, {"Accept-Encoding": "identity"})
        self._stream_headers = stream_headers
        self._block = head_block(self._headers)
        self._stream_block = head_block(stream_headers)
        self._pool: Pool | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    @property
    def is_open(self) -> bool:
        """True while a pool of connections exists that is not closed yet."""
        return self._pool is not None and not self._pool.closed

    @property
    def pool(self) -> Pool:
        """The connection pool, created on first use in the running event loop, and used only
        from that loop (`WrongEventLoopError` from any other)."""
        if self._closed:
            raise ConfigError("this client is closed; make a new one")
        pool = self._pool
        if pool is not None and not pool.closed:
            if asyncio.get_running_loop() is not pool.loop:
                raise WrongEventLoopError(
                    "this client's connection pool was opened in another event loop: make one "
                    "Client per event loop, or `await client.aclose()` before the loop ends"
                )
            return pool
        freeze_on_first_client()  # only when the process asked for it: see _gcfreeze
        self._pool = pool = Pool(
            host=self._host,
            port=self._port,
            ssl_context=self._ssl,
            limit=self.max_connections or 0,
            keepalive_idle=self.keepalive_idle,
            dns_ttl=self.dns_ttl,
            connect_timeout=self.timeouts.connect,
        )
        return pool

    async def warm(self, n: int) -> None:
        """Open and handshake connections until `n` wait in the pool (opt-in warm-up), so the
        first `n` concurrent requests pay no connect and no TLS handshake."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"warm-up needs a number of connections >= 0, got {n!r}")
        if not n:
            return
        try:
            await self.pool.warm(n)
        except (TimeoutError, *READ_ERRORS) as e:
            error = self._send_error(e, ConnectTimeout)
        else:
            return
        raise error

    async def aclose(self) -> None:
        """Close the pool and every connection in it; no new one is made after this."""
        self._closed = True
        if self._pool is not None and not self._pool.closed:
            await self._pool.aclose()

    def url(self, path: str) -> str:
        """The full URL of an API path such as `/chat/completions`."""
        return self.base_url + path

    def _target(self, path: str) -> str:
        """The request target of an API path: percent-encoded, so an id taken from a reply
        or a file (a batch or file id in the path) cannot break the request line."""
        if path == CHAT_PATH:
            return self._chat_target
        return self._prefix + quote(path, safe=_PATH_SAFE)

    async def post(
        self,
        path: str,
        body: dict[str, Any],
        *,
        stream: bool,
        deadlines: Deadlines,
        extra_headers: Mapping[str, str] | None = None,
        conn: ConnStamps | None = None,
    ) -> Response:
        """Send a POST and return the response once its headers arrived and its status is OK.

        The wait for the headers ends at `deadlines.first()`. Error statuses, redirects and a
        wrong content type become typed errors; the response is closed in that case. `conn`
        is told what the connection cost (see `ConnStamps`).
        """
        block = self._stream_block if stream else self._block
        if extra_headers:
            merged = dict(self._stream_headers if stream else self._headers)
            block = head_block(_merge(merged, checked_headers(extra_headers)))
        data = request_bytes("POST", self._target(path), block, orjson.dumps(body))
        info = conn if conn is not None else ConnStamps()
        resp = await self._send(data, "POST", deadlines, info)
        expected = "text/event-stream" if stream else "application/json"
        url = self.url(path)
        try:
            await self._check(resp, url, expected)
        except BaseException:
            resp.close()
            raise
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
    ) -> Response:
        """Any other API call (the Files and Batches endpoints): `method` on `path` with the
        same key, TLS, redirect refusal and typed status errors as a chat request. `expect`
        is the content type the reply must have (None: any)."""
        headers = _merge(dict(self._headers), {"Content-Type": content_type})
        if data is None and method in ("GET", "DELETE", "HEAD"):
            del headers["Content-Type"]
        raw = request_bytes(method, self._target(path), head_block(headers), data)
        resp = await self._send(raw, method, deadlines, ConnStamps(), resend_stale=method == "GET")
        url = self.url(path)
        try:
            await self._check(resp, url, expect, method)
        except BaseException:
            resp.close()
            raise
        log.debug("%s %s -> %s", method, url, resp.status)
        return resp

    async def _send(
        self,
        data: bytes,
        method: str,
        deadlines: Deadlines,
        info: ConnStamps,
        *,
        resend_stale: bool = True,
    ) -> Response:
        """Send, and wait for the response headers until `deadlines.first()`. A request that
        met a pooled connection the server had just closed is re-sent at once, once, when
        `resend_stale` (chat requests, and GETs); the Files/Batches POSTs say no: a
        connection dropped without a reply does not prove the server never acted on them."""
        due, kind = deadlines.first()
        pool = self.pool
        try:
            async with deadline_at(due):
                try:
                    return await self._exchange(pool, data, method, info)
                except Disconnected as e:
                    if not resend_stale or not _stale(e, info):
                        raise
                log.debug(
                    "a pooled connection to %s was closed by the server: re-sent", self._where()
                )
                info.stale_resend = True
                info.reused = None
                # On a new connection, so it cannot meet a stale one again. Not a retry: the
                # server never saw the request (no backoff, no `max_retries`).
                return await self._exchange(pool, data, method, info, fresh=True)
        except (TimeoutError, *READ_ERRORS) as e:
            error = self._send_error(e, kind)
        raise error

    @staticmethod
    async def _exchange(
        pool: Pool, data: bytes, method: str, info: ConnStamps, *, fresh: bool = False
    ) -> Response:
        """Write the request on a pooled (or new) connection and wait for the response head."""
        conn = await pool.acquire(info, fresh=fresh)
        try:
            head = await conn.send(data, method)
        except BaseException:
            conn.close()  # failed, timed out or cancelled mid-exchange: its state is unknown
            raise
        assert conn.reader is not None
        return Response(conn, head, conn.reader)

    def _send_error(self, e: BaseException, kind: type[APITimeoutError]) -> GroqStreamError:
        """What a failure to send, or to get the headers, is for the caller."""
        if isinstance(e, ConnectTimedOut):
            return ConnectTimeout(
                f"connecting to {self._where()} took longer than {self.timeouts.connect}s",
                timeout=self.timeouts.connect,
            )
        if isinstance(e, TimeoutError):
            return timeout_error(kind, self.timeouts)
        if isinstance(e, PoolClosed):
            return ConfigError("this client was closed while the request waited")
        if isinstance(e, CannotConnect):
            return APIConnectionError(f"cannot connect to {self._where()}: {e.os_error}")
        if isinstance(e, HTTPProtocolError):
            return APIConnectionError(f"{self._where()} sent a malformed response: {e}")
        return APIConnectionError(f"connection to {self._where()} failed: {type(e).__name__}: {e}")

    async def _check(
        self, resp: Response, url: str, expected: str | None, method: str = "POST"
    ) -> None:
        if resp.status >= 400:
            raise await self._status_error(resp, url, method)
        if 300 <= resp.status < 400:
            raise self._redirect_error(resp, url, method)
        if expected is not None and resp.content_type != expected:
            raise await self._content_type_error(resp, expected)

    def _where(self) -> str:
        return self._where_text

    async def _read_text(self, resp: Response) -> str:
        """An error response's body, up to `_ERROR_BODY_LIMIT` bytes ("" if it cannot be read
        within the idle timeout)."""
        parts: list[bytes] = []
        size = 0
        try:
            with anyio.fail_after(self.timeouts.idle or 30.0):
                while size < _ERROR_BODY_LIMIT and (piece := await resp.content.read()):
                    parts.append(piece)
                    size += len(piece)
        except (TimeoutError, *READ_ERRORS):
            return ""
        return b"".join(parts)[:_ERROR_BODY_LIMIT].decode("utf-8", "replace")

    def _redirect_error(self, resp: Response, url: str, method: str = "POST") -> RedirectError:
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

    async def _status_error(self, resp: Response, url: str, method: str = "POST") -> APIStatusError:
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
    def _status_line(resp: Response, text: str) -> str:
        """The message for a status whose body is not a JSON error object."""
        ctype = resp.content_type or "no content type"
        message = f"HTTP {resp.status} {resp.reason or ''} ({ctype})".replace("  ", " ")
        if text:
            body = html_text(text) if "html" in ctype else body_snippet(text)
            message += f": {body}"
        return message

    async def _content_type_error(self, resp: Response, expected: str) -> GroqStreamError:
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
        self, send: Callable[..., Awaitable[Response]], limit: int
    ) -> tuple[Response, bytes]:
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
            raise APIConnectionError(body_lost(e, "reading the reply")) from e

    async def read_body(self, resp: Response, limit: int) -> bytes:
        """A whole non-streaming reply, refused past `limit` bytes (a hostile server cannot
        make the client hold an unbounded body)."""
        parts: list[bytes] = []
        size = 0
        while piece := await resp.content.read():
            size += len(piece)
            if size > limit:
                raise EventTooLargeError(
                    f"the reply exceeded max_event_bytes={limit:,}",
                    limit=limit,
                    line=b"".join(parts)[:200].decode("utf-8", "replace"),
                )
            parts.append(piece)
        return b"".join(parts)
