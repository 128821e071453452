"""The thin IO layer: one aiohttp session, request building, status → typed error, retry policy.

Everything protocol-shaped is decided by the sans-IO core; this module only moves bytes and
turns aiohttp's failures into groqstream's error hierarchy.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import anyio
import orjson

from ._version import __version__
from .chunks import error_from_payload
from .errors import (
    APIConnectionError,
    APIStatusError,
    ConnectTimeout,
    ContentTypeError,
    FirstByteTimeout,
    GroqStreamError,
    TotalTimeout,
    body_snippet,
)

__all__ = ["RetryPolicy", "Timeouts", "Transport", "is_loopback", "parse_retry_after"]

log = logging.getLogger("groqstream")

_ERROR_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Timeouts in seconds; None disables one.

    - `connect`: opening the TCP (and TLS) connection.
    - `first_byte`: from sending the request to the response headers and, for a stream, to
      the first token (content, reasoning or tool-call text).
    - `idle`: longest gap between data events once tokens flow; keep-alive comments don't count.
    - `total`: the whole request, stream included (never retried).
    """

    connect: float | None = 10.0
    first_byte: float | None = 60.0
    idle: float | None = 30.0
    total: float | None = 600.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring the server's `retry-after` when it gives one.

    A server-requested wait longer than `max_retry_after` is not waited for: the error is raised.
    """

    max_retries: int = 2
    initial: float = 0.5
    cap: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 60.0

    def delay(self, attempt: int, error: GroqStreamError) -> float | None:
        """Seconds to wait before retry number `attempt` (1-based), or None to give up."""
        if not error.retryable or attempt > self.max_retries:
            return None
        retry_after: float | None = getattr(error, "retry_after", None)
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        base = min(self.cap, self.initial * 2.0 ** (attempt - 1))
        return base * (1 - self.jitter * random.random())


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
    """True if `url` points at this machine (such servers need no API key)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self.max_connections = max_connections
        self._headers: dict[str, str] = {
            "Content-Type": "application/json",
            "User-Agent": f"groqstream/{__version__}",
        }
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        if headers:
            self._headers.update(headers)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared session, created on first use (inside a running event loop)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections or 0,  # 0 = no hidden cap (aiohttp defaults to 100)
                limit_per_host=0,
                keepalive_timeout=30.0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=None, sock_connect=self.timeouts.connect, sock_read=None
                ),
                raise_for_status=False,
                auto_decompress=True,
            )
        return self._session

    async def aclose(self) -> None:
        """Close the session and every pooled connection."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def url(self, path: str) -> str:
        """The full URL of an API path such as `/chat/completions`."""
        return self.base_url + path

    async def post(
        self, path: str, body: dict[str, Any], *, stream: bool, limit: float | None
    ) -> aiohttp.ClientResponse:
        """Send a POST and return the response once its headers arrived and its status is OK.

        `limit` bounds the wait for the headers (None: no bound). Error statuses and a wrong
        content type become typed errors; the response is closed in that case.
        """
        headers = self._headers
        if stream:
            headers = {**headers, "Accept": "text/event-stream"}
        data = orjson.dumps(body)
        url = self.url(path)
        try:
            with anyio.fail_after(limit):
                resp = await self.session.post(url, data=data, headers=headers)
        except aiohttp.ServerTimeoutError:
            raise ConnectTimeout(
                f"connecting to {self._where()} took longer than {self.timeouts.connect}s",
                timeout=self.timeouts.connect,
            ) from None
        except TimeoutError:
            t = self.timeouts
            if t.total is not None and limit == t.total and limit != t.first_byte:
                raise TotalTimeout(f"no response within the total timeout of {limit}s") from None
            raise FirstByteTimeout(
                f"no response headers within {limit}s of sending the request", timeout=limit
            ) from None
        except aiohttp.ClientConnectorError as e:
            raise APIConnectionError(f"cannot connect to {self._where()}: {e.os_error}") from None
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as e:
            raise APIConnectionError(
                f"connection to {self._where()} failed: {type(e).__name__}"
            ) from None
        try:
            if resp.status >= 400:
                raise await self._status_error(resp, url)
            ctype = resp.content_type
            if stream and ctype != "text/event-stream":
                raise await self._content_type_error(resp, "text/event-stream")
            if not stream and ctype != "application/json":
                raise await self._content_type_error(resp, "application/json")
        except BaseException:
            resp.close()
            raise
        log.debug("POST %s -> %s (%s)", url, resp.status, resp.headers.get("x-request-id"))
        return resp

    def _where(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    async def _read_text(self, resp: aiohttp.ClientResponse) -> str:
        try:
            with anyio.fail_after(self.timeouts.idle or 30.0):
                raw = await resp.content.read(_ERROR_BODY_LIMIT)
        except (TimeoutError, aiohttp.ClientError, OSError):
            return ""
        return raw.decode("utf-8", "replace")

    def _not_found_hint(self, url: str) -> str:
        """What a 404 should tell: the URL asked for, and a base URL missing its `/v1`."""
        hint = f" (POST {url})"
        if not urlsplit(self.base_url).path.rstrip("/").endswith("/v1"):
            hint += f"; the base URL {self.base_url} does not end in /v1 — OpenAI-compatible "
            hint += "servers usually serve /v1/chat/completions"
        return hint

    async def _status_error(self, resp: aiohttp.ClientResponse, url: str) -> APIStatusError:
        text = await self._read_text(resp)
        headers = dict(resp.headers)
        rid = resp.headers.get("x-request-id")
        retry_after = parse_retry_after(resp.headers)
        payload: Any
        try:
            payload = orjson.loads(text) if text else None
        except orjson.JSONDecodeError:
            payload = None
        if isinstance(payload, dict):
            err = error_from_payload(
                payload,
                status=resp.status,
                request_id=rid,
                retry_after=retry_after,
                headers=headers,
            )
        else:
            ctype = resp.content_type or "no content type"
            message = f"HTTP {resp.status} {resp.reason or ''} ({ctype})".replace("  ", " ")
            if text:
                message += f": {body_snippet(text)}"
            err = error_from_payload(
                {"error": {"message": message}},
                status=resp.status,
                request_id=rid,
                retry_after=retry_after,
                headers=headers,
            )
            err.body = text
        if resp.status == 404:
            err.message += self._not_found_hint(url)
        log.debug("HTTP %s from %s (request %s)", resp.status, self._where(), rid)
        return err

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
        return ContentTypeError(
            f"expected {expected} but the server sent {ctype} (status {resp.status}); "
            f"is the base URL right, or is a proxy in the way? Body: {body_snippet(text)!r}",
            status=resp.status,
            content_type=ctype,
            body=text,
        )
