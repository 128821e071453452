"""`SimulatedServer`: a Groq-shaped chat completions server on loopback, for demos and tests.

It writes its own SSE bytes and imports nothing from the client side of groqstream, so it
cannot share the client's bugs. It refuses what Groq refuses, with Groq's statuses and error
bodies (see `validation.py`). Pacing uses absolute deadlines (no drift, no busy loops), so
it stays accurate with hundreds of concurrent streams. A client that goes away mid-reply is
normal: it is recorded as "client_disconnected" and logged at debug level, never as an error.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import secrets
import ssl
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web

from .batches import BatchAPI
from .catalog import GROQ_MODELS, ModelInfo, resolve_models
from .connections import IdleCutoff
from .conversation import check_conversation
from .dialects import DIALECTS, Dialect
from .faults import Fault
from .limits import Window, groq_duration
from .replies import Pacing, ReplyPlan, requested_cap
from .stats import RequestRecord, ServerStats
from .tail import SlowTail
from .validation import Rejection, check_chat, parse_json_object

__all__ = ["RequestRecord", "ServerStats", "SimulatedServer", "groq_duration", "serve"]

_log = logging.getLogger("groqstream.testing")
_perf_ns = time.perf_counter_ns
_COALESCE = 64 * 1024
_DEFAULT_REASONING = ("openai/gpt-oss-20b", "openai/gpt-oss-120b", "qwen/qwen3-32b")
_CAPACITY_MESSAGE = "Flex tier capacity exceeded. The request was not processed; try again later."


class SimulatedServer:
    """A Groq-like (or vLLM/llama.cpp/Ollama/OpenAI-like) server on 127.0.0.1.

    Use as ``async with SimulatedServer(...) as server`` and point a client at
    `server.base_url`. Script failures with `server.faults.append(Fault...)` (each request
    pops one) or a request body's `sim_fault`; read `server.stats` and `server.requests`.

    `models` says which model names exist (default: Groq's chat models, `GROQ_MODELS`);
    others get Groq's 404 `model_not_found`. Pass `models="*"` to accept any name, or your
    own names / `ModelInfo`s. `GET /openai/v1/models` lists them in Groq's shape.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ttft: float = 0.05,
        tokens_per_second: float = 500.0,
        tokens_per_chunk: int = 1,
        output_tokens: int = 48,
        reasoning_tokens: int = 16,
        reasoning_models: Iterable[str] = _DEFAULT_REASONING,
        models: Iterable[str | ModelInfo] | str = GROQ_MODELS,
        seed: int = 0,
        dialect: str | Dialect = "groq",
        api_key: str | None = None,
        rate_limit_requests: int | None = None,
        rate_limit_tokens: int | None = None,
        record_send_times: bool = False,
        queue_time: float = 0.0,
        slow_tail: SlowTail | None = None,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_timeout: float = 75.0,
        max_records: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.ttft = ttft
        self.tokens_per_second = tokens_per_second
        self.tokens_per_chunk = tokens_per_chunk
        self.output_tokens = output_tokens
        self.reasoning_tokens = reasoning_tokens
        self.reasoning_models = frozenset(reasoning_models)
        self.models, self.any_model = resolve_models(models)
        self.seed = seed
        self.dialect = DIALECTS[dialect] if isinstance(dialect, str) else dialect
        self.record_send_times = record_send_times
        self.queue_time = queue_time
        self.slow_tail = slow_tail
        self._api_key = api_key
        self._req_window = Window(rate_limit_requests)
        self._tok_window = Window(rate_limit_tokens)
        self.stats = ServerStats()
        self.requests: list[RequestRecord] = []
        self.faults: collections.deque[Fault] = collections.deque()
        self._throttle_until = 0.0
        self._throttle_retry: float | None = None
        self._runner: web.AppRunner | None = None
        self._released = asyncio.Event()
        self._released.set()
        self.batch_api = BatchAPI(self)  # Files + Batches endpoints, on a compressed clock
        self.ssl_context = ssl_context  # serve HTTPS with this (server-side) context
        self.keepalive_timeout = keepalive_timeout  # idle keep-alive connections closed after
        self.idle_cutoff = IdleCutoff()  # `idle_cutoff.expire()`: the stale keep-alive race
        self.max_records = max_records  # keep about the last this many `requests` (soaks)

    def __repr__(self) -> str:
        return f"<SimulatedServer {self.base_url if self._runner else 'stopped'}>"

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL: requests go to `base_url + "/chat/completions"`."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}/openai/v1"

    @property
    def pacing(self) -> Pacing:
        """The configured timings, as replies report them in their usage."""
        return Pacing(self.ttft, self.tokens_per_second, self.tokens_per_chunk, self.queue_time)

    async def start(self) -> None:
        """Bind and start serving (picks a free port when `port` is 0)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for prefix in ("/openai/v1", "/v1"):
            app.router.add_post(prefix + "/chat/completions", self._chat)
            app.router.add_get(prefix + "/models", self._models)
            app.router.add_get(prefix + "/models/{model:.+}", self._model)
            self.batch_api.add_routes(app.router, prefix)
        runner = web.AppRunner(
            app,
            handler_cancellation=True,
            access_log=None,
            keepalive_timeout=self.keepalive_timeout,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, backlog=4096, ssl_context=self.ssl_context)
        await site.start()
        self.port = runner.addresses[0][1]
        self._runner = runner

    async def close(self) -> None:
        """Stop serving and close every connection."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimulatedServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def throttle(self, seconds: float, *, retry_after: float | None = None) -> None:
        """For `seconds` from now, answer every chat request with 429 and `retry-after`."""
        self._throttle_until = time.monotonic() + seconds
        self._throttle_retry = retry_after

    def hold(self) -> None:
        """Hold every chat request that arrives from now on (after validation, rate limits
        and early faults, before any reply) until `release()`.

        A test can then wait for `stats.requests_held` to reach a client's concurrency and
        check that no more arrive: how wide a client runs, judged without a clock.
        """
        self._released.clear()

    def release(self) -> None:
        """Let every held request (and every later one) go on."""
        self._released.set()

    def reset(self) -> None:
        """Clear stats (still tracking open connections), records, faults and throttling."""
        self.stats = self.stats.fresh()
        self.requests.clear()
        self.faults.clear()
        self._throttle_until = 0.0

    async def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until no stream is active and no connection is open (TimeoutError if not)."""
        deadline = time.monotonic() + timeout
        while self.stats.streams_active or self.stats.connections_open:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"server not idle: {self.stats.streams_active} streams, "
                    f"{self.stats.connections_open} connections"
                )
            await asyncio.sleep(0.01)

    # --- models --------------------------------------------------------------------------

    def _saw(self, request: web.Request) -> None:
        self.stats.saw(request.transport)

    def unauthorized_reply(self) -> web.Response:
        """Groq's 401 for a missing or wrong key (for the simulator's own endpoint modules)."""
        return _json(Rejection(401, "Invalid API Key", code="invalid_api_key").body(), status=401)

    async def _models(self, request: web.Request) -> web.Response:
        self._saw(request)
        if not self.authorized(request):
            return self.unauthorized_reply()
        data = [m.to_dict() for m in self.models.values()]
        return _json({"object": "list", "data": data})

    async def _model(self, request: web.Request) -> web.Response:
        self._saw(request)
        if not self.authorized(request):
            return self.unauthorized_reply()
        name = request.match_info["model"]
        info = self.models.get(name)
        if info is None:
            if not self.any_model:
                msg = f"The model `{name}` does not exist or you do not have access to it."
                return _json(Rejection(404, msg, code="model_not_found").body(), status=404)
            info = ModelInfo(name)
        return _json(info.to_dict())

    # --- request handling ----------------------------------------------------------------

    def _reject(
        self, rec: RequestRecord, why: Rejection, headers: dict[str, str] | None = None
    ) -> web.Response:
        rec.status = why.status
        self.stats.count_status(why.status)
        return _json(why.body(), status=why.status, headers=headers)

    def _base_headers(self, rid: str) -> dict[str, str]:
        h: dict[str, str] = {}
        d = self.dialect
        if d.request_id_header:
            h["x-request-id"] = rid
        if d.rate_limit_headers:
            h.update(self._req_window.headers("requests", 14400))
            h.update(self._tok_window.headers("tokens", 1_000_000))
        return h

    def record_request(self, request: web.Request) -> RequestRecord:
        """Count and record a request in `requests` (the key redacted); endpoint modules call
        it first."""
        self._saw(request)
        headers = {
            k: ("<redacted>" if k.lower() == "authorization" else v)
            for k, v in request.headers.items()
        }
        rec = RequestRecord(self.stats.requests_total, request.path, headers, {}, _perf_ns())
        if self.max_records is not None and len(self.requests) >= self.max_records:
            del self.requests[: self.max_records // 2 + 1]
        self.requests.append(rec)
        self.stats.requests_total += 1
        return rec

    def authorized(self, request: web.Request) -> bool:
        """True if the request carries the server's key (or the server has none)."""
        if self._api_key is None:
            return True
        auth = request.headers.get("Authorization", "")
        return secrets.compare_digest(auth.encode(), f"Bearer {self._api_key}".encode())

    async def _refusal(
        self, request: web.Request, rec: RequestRecord, rid: str
    ) -> web.Response | dict[str, Any]:
        """The parsed body of an acceptable request, or the response refusing it."""
        why: Rejection | None
        if not self.authorized(request):
            rec.authorized = False
            why = Rejection(401, "Invalid API Key", code="invalid_api_key")
        else:
            body = parse_json_object(await request.read())
            if isinstance(body, Rejection):
                why = body
            else:
                rec.body = body
                why = check_chat(body, self.models, self.any_model) or check_conversation(body)
                if why is None:
                    return body
        rec.outcome = "error"
        return self._reject(rec, why, {"x-request-id": rid})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if self.idle_cutoff.drops(request.transport):
            return web.Response(status=204)  # never written: the socket is gone
        rec = self.record_request(request)
        rid = "req_" + secrets.token_hex(13)
        body = await self._refusal(request, rec, rid)
        if isinstance(body, web.StreamResponse):
            return body
        fault = self._fault_for(body)
        base = self._base_headers(rid)
        limited = self._limited(rec, body, base)
        if limited is not None:
            return limited
        if fault is not None:
            early = await self._early_fault(rec, fault, base)
            if early is not None:
                return early
        if not self._released.is_set():
            await self._wait_released()
        plan = ReplyPlan(
            body,
            rid,
            dialect=self.dialect,
            output_tokens=self.output_tokens,
            reasoning_tokens=self.reasoning_tokens,
            reasoning_models=self.reasoning_models,
            tokens_per_chunk=self.tokens_per_chunk,
            seed=self.seed,
        )
        if self.queue_time > 0:
            await asyncio.sleep(self.queue_time)
        if body.get("stream"):
            return await self._stream(request, rec, plan, fault, base)
        return await self._complete(request, rec, plan, fault, base)

    def _fault_for(self, body: dict[str, Any]) -> Fault | None:
        """The request's own `sim_fault`, else the next scripted fault, else None."""
        if isinstance(body.get("sim_fault"), dict):
            return Fault.from_dict(body["sim_fault"])
        return self.faults.popleft() if self.faults else None

    def _limited(
        self, rec: RequestRecord, body: dict[str, Any], base: dict[str, str]
    ) -> web.Response | None:
        now = time.monotonic()
        wait: float | None = None
        kind = "requests"
        if now < self._throttle_until:
            wait = self._throttle_retry or (self._throttle_until - now)
        else:
            wait = self._req_window.take(1)
            if wait is None:
                cap = requested_cap(body)
                est = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
                est += cap if cap is not None else self.output_tokens
                wait = self._tok_window.take(est)
                kind = "tokens"
        if wait is None:
            return None
        rec.outcome = "fault"
        retry = math.ceil(wait) if wait >= 1 else wait
        headers = {**base, "retry-after": str(retry)}
        msg = (
            f"Rate limit reached for model `{body.get('model')}` on {kind}. "
            f"Please try again in {groq_duration(wait)}."
        )
        return self._reject(rec, Rejection(429, msg, kind, code="rate_limit_exceeded"), headers)

    async def _wait_released(self) -> None:
        self.stats.requests_held += 1
        try:
            await self._released.wait()
        finally:
            self.stats.requests_held -= 1

    # --- faults answered before any reply ------------------------------------------------

    async def _early_fault(
        self, rec: RequestRecord, fault: Fault, base: dict[str, str]
    ) -> web.Response | None:
        if fault.kind in ("status", "capacity_exceeded"):
            rec.outcome = "fault"
            return self._status_fault(rec, fault, base)
        if fault.kind == "html":
            rec.outcome = "fault"
            rec.status = fault.http_status
            self.stats.count_status(fault.http_status)
            page = (
                f"<html>\r\n<head><title>{fault.http_status} Bad Gateway</title></head>\r\n"
                f"<body>\r\n<center><h1>{fault.http_status} Bad Gateway</h1></center>\r\n"
                "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            )
            return web.Response(text=page, status=fault.http_status, content_type="text/html")
        if fault.kind == "delay_headers":
            await asyncio.sleep(fault.seconds)
        return None

    def _status_fault(self, rec: RequestRecord, fault: Fault, base: dict[str, str]) -> web.Response:
        headers = dict(base)
        if fault.retry_after is not None:
            ra = fault.retry_after
            headers["retry-after"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        if fault.retry_after_ms is not None:
            headers["retry-after-ms"] = str(fault.retry_after_ms)
        s = 498 if fault.kind == "capacity_exceeded" else fault.http_status
        error_type, code, message = {
            429: ("requests", "rate_limit_exceeded", None),
            498: ("capacity_exceeded", "capacity_exceeded", _CAPACITY_MESSAGE),
            503: ("service_unavailable", None, None),
        }.get(s, ("internal_server_error" if s >= 500 else "invalid_request_error", None, None))
        why = Rejection(
            s,
            fault.message or message or f"simulated {s}",
            fault.error_type or error_type,
            code=fault.code or code,
            failed_generation=fault.failed_generation,
        )
        return self._reject(rec, why, headers)

    # --- streaming -----------------------------------------------------------------------

    def _gone(self, rec: RequestRecord, why: BaseException, *, stream: bool = True) -> None:
        """The client went away mid-reply: normal for a streaming server, not an error."""
        if stream:
            self.stats.streams_cancelled += 1
        rec.outcome = "client_disconnected"
        rec.ended_ns = _perf_ns()
        _log.debug("request %d: client disconnected (%s)", rec.index, type(why).__name__)

    async def _stream(
        self,
        request: web.Request,
        rec: RequestRecord,
        plan: ReplyPlan,
        fault: Fault | None,
        base: dict[str, str],
    ) -> web.StreamResponse:
        ttft = self.ttft
        if self.slow_tail is not None:
            rec.ttft_factor = self.slow_tail.draw()
            ttft *= rec.ttft_factor
        start = asyncio.get_running_loop().time() + self.queue_time + ttft
        resp = web.StreamResponse(
            headers={**base, "content-type": "text/event-stream", "cache-control": "no-cache"}
        )
        stats = self.stats
        stats.count_status(200)
        stats.streams_active += 1
        stats.streams_peak = max(stats.streams_peak, stats.streams_active)
        rec.outcome = "streaming"
        try:
            await resp.prepare(request)
            await resp.write(plan.role_chunk())
            if await self._send_deltas(request, resp, rec, plan, fault, start):
                return resp
            await resp.write_eof()
            stats.streams_completed += 1
            rec.outcome = "fault" if fault is not None else "completed"
        except asyncio.CancelledError as e:
            self._gone(rec, e)
            raise
        except ConnectionError as e:  # a write found the connection closed by the client
            self._gone(rec, e)
        finally:
            stats.streams_active -= 1
        return resp

    async def _send_deltas(
        self,
        request: web.Request,
        resp: web.StreamResponse,
        rec: RequestRecord,
        plan: ReplyPlan,
        fault: Fault | None,
        start: float,
    ) -> bool:
        """Write every delta (paced, or coalesced when unpaced) and the final chunks; True
        if a fault ended the reply early."""
        prefix, suffix = plan.affixes()
        fault_at = fault.after_chunks if fault is not None else -1
        step = self.pacing.step
        paced = step > 0
        buf: list[bytes] = []
        size = 0
        for k, (delta, ntok) in enumerate(plan.deltas):
            if k == fault_at and fault is not None:
                if buf:
                    await resp.write(b"".join(buf))
                    buf, size = [], 0
                if await self._mid_fault(request, resp, rec, fault):
                    return True
            encoded = prefix + orjson.dumps(delta) + suffix
            if paced:
                await self._wait_until(resp, start + k * step, self.dialect.ping_interval)
                if self.record_send_times:
                    rec.send_ns.append(_perf_ns())
                await resp.write(encoded)
            else:
                buf.append(encoded)
                size += len(encoded)
                if size >= _COALESCE:
                    await resp.write(b"".join(buf))
                    buf, size = [], 0
            rec.content_chunks_sent += 1
            self.stats.tokens_sent += ntok
        late = fault is not None and fault_at >= len(plan.deltas)
        if late and await self._mid_fault(request, resp, rec, fault):  # type: ignore[arg-type]
            return True
        buf.append(plan.final_chunks(self.pacing))
        await resp.write(b"".join(buf))
        return False

    async def _wait_until(
        self, resp: web.StreamResponse, deadline: float, ping: float | None
    ) -> None:
        loop = asyncio.get_running_loop()
        delay = deadline - loop.time()
        if ping:
            while delay > ping:
                await asyncio.sleep(ping)
                await resp.write(b": ping\n\n")
                delay = deadline - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _mid_fault(
        self, request: web.Request, resp: web.StreamResponse, rec: RequestRecord, fault: Fault
    ) -> bool:
        """Apply a mid-stream fault; True if the stream ends here."""
        rec.outcome = "fault"
        kind = fault.kind
        if kind == "malformed_json":
            await resp.write(b'data: {"id":"chatcmpl-x","choices":[{"delta":{"content":"oops"\n\n')
            return False
        if kind == "cut":
            _abort(request)
            return True
        if kind == "stall":
            loop = asyncio.get_running_loop()
            await self._wait_until(resp, loop.time() + fault.seconds, fault.ping_interval)
            return False
        if kind == "stream_error":
            prefix = b"event: error\n" if fault.as_event else b""
            await resp.write(prefix + b"data: " + orjson.dumps(_error_object(fault)) + b"\n\n")
            await resp.write_eof()
            self.stats.streams_completed += 1
            return True
        if kind == "end_early":
            await resp.write_eof()
            self.stats.streams_completed += 1
            return True
        return False

    # --- non-streaming -------------------------------------------------------------------

    async def _complete(
        self,
        request: web.Request,
        rec: RequestRecord,
        plan: ReplyPlan,
        fault: Fault | None,
        base: dict[str, str],
    ) -> web.StreamResponse:
        tps = self.tokens_per_second
        gen = self.ttft + (plan.completion_tokens / tps if 0 < tps < math.inf else 0.0)
        await asyncio.sleep(gen)
        payload = plan.completion(self.pacing)
        self.stats.count_status(200)
        rec.outcome = "completed" if fault is None else "fault"
        if fault is None or fault.kind not in _BODY_FAULTS:
            return web.Response(body=payload, content_type="application/json", headers=base)
        half = payload[: len(payload) // 2]
        if fault.kind == "malformed_json":
            return web.Response(body=half, content_type="application/json", headers=base)
        if fault.kind == "stream_error":
            body = orjson.dumps(_error_object(fault))
            return web.Response(body=body, content_type="application/json", headers=base)
        resp = web.StreamResponse(headers={**base, "content-type": "application/json"})
        if fault.kind != "end_early":  # end_early: chunked, so the body can end cleanly
            resp.content_length = len(payload)
        try:
            await self._spoil(request, resp, fault, payload)
        except ConnectionError as e:  # the client gave up first (e.g. during a stall)
            self._gone(rec, e, stream=False)
        return resp

    async def _spoil(
        self, request: web.Request, resp: web.StreamResponse, fault: Fault, payload: bytes
    ) -> None:
        """Send a non-streaming body the way `fault` (cut, stall, end_early) spoils it."""
        await resp.prepare(request)
        if fault.kind == "stall":
            await asyncio.sleep(fault.seconds)
            await resp.write(payload)
        else:
            await resp.write(payload[: len(payload) // 2])
            if fault.kind == "cut":
                _abort(request)
                return
        await resp.write_eof()


_BODY_FAULTS = frozenset({"malformed_json", "stream_error", "cut", "stall", "end_early"})


def _json(obj: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A compact JSON reply, as Groq sends (`application/json`, no spaces)."""
    return web.Response(
        body=orjson.dumps(obj), status=status, content_type="application/json", headers=headers
    )


def _error_object(fault: Fault) -> dict[str, Any]:
    err = {"message": fault.message, "type": fault.error_type, "code": fault.code}
    if fault.failed_generation is not None:
        err["failed_generation"] = fault.failed_generation
    return {"error": err}


def _abort(request: web.Request) -> None:
    """Drop the connection without a clean close (RST), as a crashed peer or proxy does."""
    if request.transport is not None:
        request.transport.abort()


async def serve(*, host: str = "127.0.0.1", port: int = 8000, **kwargs: Any) -> None:
    """Run a `SimulatedServer` until cancelled, printing its base URL."""
    async with SimulatedServer(host=host, port=port, **kwargs) as server:
        print(f"groqstream simulated server at {server.base_url}  (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()
