"""`SimulatedServer`: a Groq-shaped chat completions server on loopback, for demos and tests.

It writes its own SSE bytes and imports nothing from the client side of groqstream, so it
cannot share the client's bugs. Pacing uses absolute deadlines (no drift, no busy loops), so
it stays accurate with hundreds of concurrent streams.
"""

from __future__ import annotations

import asyncio
import collections
import math
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web

from .dialects import DIALECTS, Dialect
from .faults import Fault
from .textgen import make_rng, words

__all__ = ["RequestRecord", "ServerStats", "SimulatedServer", "serve"]

_perf_ns = time.perf_counter_ns
_COALESCE = 64 * 1024
_DEFAULT_REASONING = ("openai/gpt-oss-20b", "openai/gpt-oss-120b", "qwen/qwen3-32b")


@dataclass
class ServerStats:
    """Counters the tests and benchmarks read."""

    requests_total: int = 0
    streams_active: int = 0
    streams_peak: int = 0
    streams_completed: int = 0
    streams_cancelled: int = 0
    connections_total: int = 0
    connections_open: int = 0
    status_counts: dict[int, int] = field(default_factory=dict)
    tokens_sent: int = 0


@dataclass
class RequestRecord:
    """What one chat request looked like and how it ended."""

    index: int
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_ns: int
    status: int = 200
    outcome: str = "pending"  # completed | client_disconnected | fault | error
    content_chunks_sent: int = 0
    send_ns: list[int] = field(default_factory=list)
    authorized: bool = True


def groq_duration(seconds: float) -> str:
    """Format seconds as Groq's rate-limit reset values do: '2m59.56s', '7.66s', '120ms'."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}m{secs:.2f}s" if minutes else f"{secs:.2f}s"


class _Window:
    """A fixed one-minute rate-limit window."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.start = time.monotonic()
        self.used = 0

    def _roll(self) -> float:
        now = time.monotonic()
        if now - self.start >= 60:
            self.start, self.used = now, 0
        return 60 - (now - self.start)

    def take(self, amount: int) -> float | None:
        """Charge `amount`; None if allowed, else the seconds until the window resets."""
        reset = self._roll()
        if self.limit is not None and self.used + amount > self.limit:
            return reset
        self.used += amount
        return None

    def headers(self, kind: str, default_limit: int) -> dict[str, str]:
        reset = self._roll()
        limit = self.limit if self.limit is not None else default_limit
        return {
            f"x-ratelimit-limit-{kind}": str(limit),
            f"x-ratelimit-remaining-{kind}": str(max(0, limit - self.used)),
            f"x-ratelimit-reset-{kind}": groq_duration(reset if self.limit is not None else 0.5),
        }


class _Plan:
    """What one request will generate: the pre-encoded chunk bodies and their token counts."""

    def __init__(self, server: SimulatedServer, body: dict[str, Any], rid: str) -> None:
        d = server.dialect
        self.model = str(body.get("model"))
        messages = body.get("messages") or []
        prompt = ""
        for m in messages:
            if isinstance(m, dict) and m.get("role") == "user":
                prompt = str(m.get("content"))
        self.prompt_tokens = sum(
            len(str(m.get("content", "")).split()) + 4 for m in messages if isinstance(m, dict)
        )
        cap = body.get("max_completion_tokens") or body.get("max_tokens")
        n = server.output_tokens
        self.finish = "stop"
        rng = make_rng(self.model, prompt, server.seed, body.get("seed"))
        reasoning_n = 0
        if (
            d.reasoning_field is not None
            and self.model in server.reasoning_models
            and body.get("reasoning_format") != "hidden"
            and body.get("include_reasoning", True) is not False
        ):
            reasoning_n = server.reasoning_tokens
        if isinstance(cap, int) and cap < reasoning_n + n:
            reasoning_n = min(reasoning_n, cap)
            n = cap - reasoning_n
            self.finish = "length"
        self.deltas: list[tuple[dict[str, Any], int]] = []  # (delta, tokens)
        tpc = max(1, server.tokens_per_chunk)
        if reasoning_n:
            r = words(rng, reasoning_n, prefix=("Let", "me", "think", "about", "this."))
            for i in range(0, len(r), tpc):
                part = r[i : i + tpc]
                self.deltas.append(({str(d.reasoning_field): "".join(part)}, len(part)))
        tools = body.get("tools")
        if tools and body.get("tool_choice") != "none" and isinstance(tools, list):
            self._tool_deltas(tools, body, prompt, rng)
            self.finish = "tool_calls"
        else:
            text = words(rng, n)
            for i in range(0, len(text), tpc):
                part = text[i : i + tpc]
                self.deltas.append(({"content": "".join(part)}, len(part)))
        self.completion_tokens = sum(t for _, t in self.deltas)
        so = body.get("stream_options")
        self.include_usage = isinstance(so, dict) and bool(so.get("include_usage"))
        self.rid = rid
        self.cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        self.created = int(time.time())

    def _tool_deltas(self, tools: list[Any], body: dict[str, Any], prompt: str, rng: Any) -> None:
        count = 2 if body.get("parallel_tool_calls") and len(tools) >= 2 else 1
        pieces: list[list[str]] = []
        for ti in range(count):
            fn = (tools[ti] or {}).get("function") or {}
            props = ((fn.get("parameters") or {}).get("properties") or {"input": {}}).keys()
            prompt_words = [w.strip("?.,!") for w in prompt.split()] or ["value"]
            args = {p: rng.choice(prompt_words) for p in props}
            arg_text = orjson.dumps(args).decode()
            frags = [arg_text[i : i + 8] for i in range(0, len(arg_text), 8)]
            head = {
                "index": ti,
                "id": "call_" + secrets.token_hex(6),
                "type": "function",
                "function": {"name": str(fn.get("name", "tool")), "arguments": ""},
            }
            self.deltas.append(({"tool_calls": [head]}, 1))
            pieces.append(frags)
        longest = max(len(p) for p in pieces)
        for i in range(longest):
            for ti, frags in enumerate(pieces):
                if i < len(frags):
                    frag = {"index": ti, "function": {"arguments": frags[i]}}
                    self.deltas.append(({"tool_calls": [frag]}, 1))

    def full_text(self, key: str) -> str:
        return "".join(str(dl.get(key, "")) for dl, _ in self.deltas)


class SimulatedServer:
    """A Groq-like (or vLLM/llama.cpp/Ollama/OpenAI-like) server on 127.0.0.1.

    Use as ``async with SimulatedServer(...) as server`` and point a client at
    `server.base_url`. Script failures with `server.faults.append(Fault...)` (each request
    pops one) or a request body's `sim_fault`; read `server.stats` and `server.requests`.
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
        seed: int = 0,
        dialect: str | Dialect = "groq",
        api_key: str | None = None,
        rate_limit_requests: int | None = None,
        rate_limit_tokens: int | None = None,
        record_send_times: bool = False,
        queue_time: float = 0.0,
    ) -> None:
        self.host = host
        self.port = port
        self.ttft = ttft
        self.tokens_per_second = tokens_per_second
        self.tokens_per_chunk = tokens_per_chunk
        self.output_tokens = output_tokens
        self.reasoning_tokens = reasoning_tokens
        self.reasoning_models = frozenset(reasoning_models)
        self.seed = seed
        self.dialect = DIALECTS[dialect] if isinstance(dialect, str) else dialect
        self.record_send_times = record_send_times
        self.queue_time = queue_time
        self._api_key = api_key
        self._req_window = _Window(rate_limit_requests)
        self._tok_window = _Window(rate_limit_tokens)
        self.stats = ServerStats()
        self.requests: list[RequestRecord] = []
        self.faults: collections.deque[Fault] = collections.deque()
        self._throttle_until = 0.0
        self._throttle_retry: float | None = None
        self._runner: web.AppRunner | None = None
        self._idle = asyncio.Event()

    def __repr__(self) -> str:
        return f"<SimulatedServer {self.base_url if self._runner else 'stopped'}>"

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL: requests go to `base_url + "/chat/completions"`."""
        return f"http://{self.host}:{self.port}/openai/v1"

    async def start(self) -> None:
        """Bind and start serving (picks a free port when `port` is 0)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for prefix in ("/openai/v1", "/v1"):
            app.router.add_post(prefix + "/chat/completions", self._chat)
            app.router.add_get(prefix + "/models", self._models)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        srv = runner.server
        assert srv is not None
        made, lost = srv.connection_made, srv.connection_lost

        def connection_made(handler: Any, transport: Any) -> None:
            self.stats.connections_total += 1
            self.stats.connections_open += 1
            made(handler, transport)

        def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
            self.stats.connections_open -= 1
            lost(handler, exc)

        srv.connection_made = connection_made  # type: ignore[method-assign]
        srv.connection_lost = connection_lost  # type: ignore[method-assign]
        site = web.TCPSite(runner, self.host, self.port, backlog=4096)
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

    def reset(self) -> None:
        """Clear stats (keeping open-connection counts), records, faults and throttling."""
        open_now = self.stats.connections_open
        self.stats = ServerStats(connections_open=open_now)
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

    # --- request handling ----------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        names = sorted(self.reasoning_models | {"moonshotai/kimi-k2-instruct"})
        data = [{"id": n, "object": "model", "owned_by": "groqstream-sim"} for n in names]
        return web.json_response({"object": "list", "data": data})

    def _error(
        self,
        rec: RequestRecord,
        status: int,
        message: str,
        error_type: str | None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        rec.status = status
        self.stats.status_counts[status] = self.stats.status_counts.get(status, 0) + 1
        body = {"error": {"message": message, "type": error_type, "code": code}}
        return web.Response(
            body=orjson.dumps(body),
            status=status,
            content_type="application/json",
            headers=headers,
        )

    def _base_headers(self, rid: str) -> dict[str, str]:
        h: dict[str, str] = {}
        d = self.dialect
        if d.request_id_header:
            h["x-request-id"] = rid
        if d.rate_limit_headers:
            h.update(self._req_window.headers("requests", 14400))
            h.update(self._tok_window.headers("tokens", 1_000_000))
        return h

    async def _chat(self, request: web.Request) -> web.StreamResponse:  # noqa: C901
        headers = {
            k: ("<redacted>" if k.lower() == "authorization" else v)
            for k, v in request.headers.items()
        }
        rec = RequestRecord(len(self.requests), request.path, headers, {}, _perf_ns())
        self.requests.append(rec)
        self.stats.requests_total += 1
        rid = "req_" + secrets.token_hex(13)
        if self._api_key is not None:
            auth = request.headers.get("Authorization", "")
            if not secrets.compare_digest(auth, f"Bearer {self._api_key}"):
                rec.authorized = False
                rec.outcome = "error"
                return self._error(
                    rec,
                    401,
                    "Invalid API Key",
                    "invalid_request_error",
                    "invalid_api_key",
                    {"x-request-id": rid},
                )
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            rec.outcome = "error"
            return self._error(rec, 400, "request body is not valid JSON", "invalid_request_error")
        if not isinstance(body, dict) or not body.get("model") or not body.get("messages"):
            rec.outcome = "error"
            return self._error(
                rec, 400, "`model` and `messages` are required", "invalid_request_error"
            )
        rec.body = body
        fault: Fault | None = None
        if isinstance(body.get("sim_fault"), dict):
            fault = Fault.from_dict(body["sim_fault"])
        elif self.faults:
            fault = self.faults.popleft()
        base = self._base_headers(rid)
        limited = self._limited(rec, body, base)
        if limited is not None:
            return limited
        if fault is not None:
            early = await self._early_fault(rec, fault, base)
            if early is not None:
                return early
        plan = _Plan(self, body, rid)
        if self.queue_time > 0:
            await asyncio.sleep(self.queue_time)
        if body.get("stream"):
            return await self._stream(request, rec, plan, fault, base)
        return await self._complete(rec, plan, base)

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
                cap = body.get("max_completion_tokens") or body.get("max_tokens")
                est = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
                est += cap if isinstance(cap, int) else self.output_tokens
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
        return self._error(rec, 429, msg, kind, "rate_limit_exceeded", headers)

    async def _early_fault(
        self, rec: RequestRecord, fault: Fault, base: dict[str, str]
    ) -> web.Response | None:
        if fault.kind == "status":
            rec.outcome = "fault"
            headers = dict(base)
            if fault.retry_after is not None:
                ra = fault.retry_after
                headers["retry-after"] = str(int(ra)) if float(ra).is_integer() else str(ra)
            if fault.retry_after_ms is not None:
                headers["retry-after-ms"] = str(fault.retry_after_ms)
            s = fault.http_status
            default_type = "internal_server_error" if s >= 500 else "invalid_request_error"
            if s == 503:
                default_type = "service_unavailable"
            if s == 429:
                default_type = "requests"
            return self._error(
                rec,
                s,
                fault.message or f"simulated {s}",
                fault.error_type or default_type,
                fault.code or ("rate_limit_exceeded" if s == 429 else None),
                headers,
            )
        if fault.kind == "html":
            rec.outcome = "fault"
            rec.status = fault.http_status
            counts = self.stats.status_counts
            counts[fault.http_status] = counts.get(fault.http_status, 0) + 1
            page = (
                f"<html>\r\n<head><title>{fault.http_status} Bad Gateway</title></head>\r\n"
                f"<body>\r\n<center><h1>{fault.http_status} Bad Gateway</h1></center>\r\n"
                "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            )
            return web.Response(text=page, status=fault.http_status, content_type="text/html")
        if fault.kind == "delay_headers":
            await asyncio.sleep(fault.seconds)
        return None

    # --- streaming -----------------------------------------------------------------------

    async def _stream(
        self,
        request: web.Request,
        rec: RequestRecord,
        plan: _Plan,
        fault: Fault | None,
        base: dict[str, str],
    ) -> web.StreamResponse:
        d = self.dialect
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        resp = web.StreamResponse(
            headers={**base, "content-type": "text/event-stream", "cache-control": "no-cache"}
        )
        stats = self.stats
        stats.status_counts[200] = stats.status_counts.get(200, 0) + 1
        stats.streams_active += 1
        stats.streams_peak = max(stats.streams_peak, stats.streams_active)
        rec.outcome = "streaming"
        try:
            await resp.prepare(request)
            prefix, suffix = self._chunk_affixes(plan)
            role: dict[str, Any] = {
                "role": "assistant",
                "content": None if d.role_content_null else "",
            }
            first = self._chunk(plan, role, None, x_groq={"id": plan.rid} if d.x_groq else None)
            await resp.write(first)
            fault_at = fault.after_chunks if fault is not None else -1
            tps = self.tokens_per_second
            fast = tps <= 0 or math.isinf(tps)
            step = self.tokens_per_chunk / tps if not fast else 0.0
            start = t0 + self.queue_time + self.ttft
            buf: list[bytes] = []
            size = 0
            for k, (delta, ntok) in enumerate(plan.deltas):
                if k == fault_at and fault is not None:
                    if buf:
                        await resp.write(b"".join(buf))
                        buf, size = [], 0
                    if await self._mid_fault(request, resp, rec, fault, plan):
                        return resp
                encoded = prefix + orjson.dumps(delta) + suffix
                if fast:
                    buf.append(encoded)
                    size += len(encoded)
                    if size >= _COALESCE:
                        await resp.write(b"".join(buf))
                        buf, size = [], 0
                else:
                    await self._wait_until(resp, start + k * step, d.ping_interval)
                    if self.record_send_times:
                        rec.send_ns.append(_perf_ns())
                    await resp.write(encoded)
                rec.content_chunks_sent += 1
                stats.tokens_sent += ntok
            late_fault = fault is not None and fault_at >= len(plan.deltas)
            if late_fault and await self._mid_fault(request, resp, rec, fault, plan):  # type: ignore[arg-type]
                return resp
            buf.append(self._final_chunks(plan))
            await resp.write(b"".join(buf))
            await resp.write_eof()
            stats.streams_completed += 1
            rec.outcome = "fault" if fault is not None else "completed"
            return resp
        except (asyncio.CancelledError, ConnectionResetError):
            stats.streams_cancelled += 1
            rec.outcome = "client_disconnected"
            raise
        finally:
            stats.streams_active -= 1

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
        self,
        request: web.Request,
        resp: web.StreamResponse,
        rec: RequestRecord,
        fault: Fault,
        plan: _Plan,
    ) -> bool:
        """Apply a mid-stream fault; True if the stream ends here."""
        rec.outcome = "fault"
        kind = fault.kind
        if kind == "malformed_json":
            await resp.write(b'data: {"id":"chatcmpl-x","choices":[{"delta":{"content":"oops"\n\n')
            return False
        if kind == "cut":
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("simulated cut")
        if kind == "stall":
            loop = asyncio.get_running_loop()
            await self._wait_until(resp, loop.time() + fault.seconds, fault.ping_interval)
            return False
        if kind == "stream_error":
            err = {
                "error": {"message": fault.message, "type": fault.error_type, "code": fault.code}
            }
            prefix = b"event: error\n" if fault.as_event else b""
            await resp.write(prefix + b"data: " + orjson.dumps(err) + b"\n\n")
            await resp.write_eof()
            self.stats.streams_completed += 1
            return True
        if kind == "end_early":
            await resp.write_eof()
            self.stats.streams_completed += 1
            return True
        return False

    def _chunk_affixes(self, plan: _Plan) -> tuple[bytes, bytes]:
        head = {
            "id": plan.cid,
            "object": "chat.completion.chunk",
            "created": plan.created,
            "model": plan.model,
            "system_fingerprint": "fp_" + plan.cid[-10:],
        }
        prefix = b"data: " + orjson.dumps(head)[:-1] + b',"choices":[{"index":0,"delta":'
        return prefix, b',"logprobs":null,"finish_reason":null}]}\n\n'

    def _chunk(
        self,
        plan: _Plan,
        delta: dict[str, Any] | None,
        finish: str | None,
        choices: list[Any] | None = None,
        **extra: Any,
    ) -> bytes:
        obj: dict[str, Any] = {
            "id": plan.cid,
            "object": "chat.completion.chunk",
            "created": plan.created,
            "model": plan.model,
            "system_fingerprint": "fp_" + plan.cid[-10:],
            "choices": choices
            if choices is not None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        obj.update({k: v for k, v in extra.items() if v is not None})
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    def _usage(self, plan: _Plan) -> dict[str, Any]:
        """Groq-style usage whose timings are the simulated ones: the first token after
        `ttft` (prompt time is part of it), then one chunk every tokens_per_chunk/tps."""
        tps = self.tokens_per_second
        paced = 0 < tps < math.inf
        step = self.tokens_per_chunk / tps if paced else 0.0
        completion_time = max(0, len(plan.deltas) - 1) * step
        prompt_time = min(self.ttft, plan.prompt_tokens / 50_000)
        return {
            "queue_time": self.queue_time,
            "prompt_tokens": plan.prompt_tokens,
            "prompt_time": prompt_time,
            "completion_tokens": plan.completion_tokens,
            "completion_time": completion_time,
            "total_tokens": plan.prompt_tokens + plan.completion_tokens,
            "total_time": self.queue_time + self.ttft + completion_time,
        }

    def _final_chunks(self, plan: _Plan) -> bytes:
        d = self.dialect
        usage = self._usage(plan)
        x_groq = {"id": plan.rid, "usage": usage} if d.x_groq else None
        timings = None
        if d.timings:
            timings = {
                "prompt_n": plan.prompt_tokens,
                "prompt_ms": usage["prompt_time"] * 1000,
                "predicted_n": plan.completion_tokens,
                "predicted_ms": usage["completion_time"] * 1000,
                "predicted_per_second": self.tokens_per_second,
            }
        out = [self._chunk(plan, {}, plan.finish, x_groq=x_groq, timings=timings)]
        if plan.include_usage or d.always_usage:
            choices: list[Any] = []
            if d.usage_style == "empty_delta":
                choices = [{"index": 0, "delta": {}, "finish_reason": None}]
            out.append(self._chunk(plan, None, None, choices=choices, usage=usage))
        if d.send_done:
            out.append(b"data: [DONE]\n\n")
        return b"".join(out)

    # --- non-streaming -------------------------------------------------------------------

    async def _complete(
        self, rec: RequestRecord, plan: _Plan, base: dict[str, str]
    ) -> web.Response:
        tps = self.tokens_per_second
        gen = self.ttft + (plan.completion_tokens / tps if 0 < tps < math.inf else 0.0)
        await asyncio.sleep(gen)
        message: dict[str, Any] = {"role": "assistant", "content": plan.full_text("content")}
        rf = self.dialect.reasoning_field
        if rf and any(rf in dl for dl, _ in plan.deltas):
            message[rf] = plan.full_text(rf)
        calls: dict[int, dict[str, Any]] = {}
        for dl, _ in plan.deltas:
            for tc in dl.get("tool_calls", ()):
                cur = calls.setdefault(
                    tc["index"],
                    {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
                )
                cur["id"] = tc.get("id") or cur["id"]
                fn = tc.get("function", {})
                cur["function"]["name"] += fn.get("name", "")
                cur["function"]["arguments"] += fn.get("arguments", "")
        if calls:
            message["tool_calls"] = [calls[i] for i in sorted(calls)]
            message["content"] = None
        obj: dict[str, Any] = {
            "id": plan.cid,
            "object": "chat.completion",
            "created": plan.created,
            "model": plan.model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": plan.finish}
            ],
            "usage": self._usage(plan),
            "usage_breakdown": None,
            "system_fingerprint": "fp_" + plan.cid[-10:],
        }
        if self.dialect.x_groq:
            obj["x_groq"] = {"id": plan.rid}
        rec.outcome = "completed"
        self.stats.status_counts[200] = self.stats.status_counts.get(200, 0) + 1
        return web.Response(body=orjson.dumps(obj), content_type="application/json", headers=base)


async def serve(*, host: str = "127.0.0.1", port: int = 8000, **kwargs: Any) -> None:
    """Run a `SimulatedServer` until cancelled, printing its base URL."""
    async with SimulatedServer(host=host, port=port, **kwargs) as server:
        print(f"groqstream simulated server at {server.base_url}  (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()
