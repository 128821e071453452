"""Groq's Files and Batches API for `SimulatedServer`, on a compressed clock.

`POST /files` (multipart, `purpose=batch`), `GET /files/{id}`, `GET /files/{id}/content`,
`POST /batches`, `GET /batches`, `GET /batches/{id}` and `POST /batches/{id}/cancel`, with
the shapes of Groq's API (groq-python's `FileCreateResponse`, `BatchRetrieveResponse`): a
batch goes validating → in_progress → finalizing → completed (or failed / expired /
cancelling → cancelled), `request_counts` grow as its lines are "run", and the output and
error files hold one Batch API result line per request, each made by the server's own reply
logic (`ReplyPlan`) and request checks (`check_chat`).

Time is compressed: a batch spends `validating_s`, then `seconds + seconds_per_line * n` in
progress, then `finalizing_s` (all wall-clock seconds, set on `server.batch_api`). Scripted
ends for tests: append to `server.batch_api.outcomes` one of "completed", "failed",
"expired" or "expired:0.4" (expires once 40 % of its lines are done), popped per new batch.
"""

from __future__ import annotations

import collections
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from aiohttp import web

from .replies import ReplyPlan
from .validation import Rejection, check_chat

if TYPE_CHECKING:
    from .catalog import ModelInfo
    from .dialects import Dialect
    from .replies import Pacing
    from .stats import RequestRecord


class Host(Protocol):
    """What the batch endpoints use of their `SimulatedServer` (typed here, so this module
    does not import the server that imports it)."""

    models: dict[str, ModelInfo]
    any_model: bool
    dialect: Dialect
    output_tokens: int
    reasoning_tokens: int
    reasoning_models: frozenset[str]
    tokens_per_chunk: int
    seed: int

    @property
    def pacing(self) -> Pacing: ...

    def record_request(self, request: web.Request) -> RequestRecord: ...

    def authorized(self, request: web.Request) -> bool: ...

    def unauthorized_reply(self) -> web.Response: ...


__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_LINES", "BatchAPI"]

MAX_BATCH_LINES = 50_000  # Groq: up to 50,000 requests per batch input file
MAX_BATCH_BYTES = 100 * 1024 * 1024  # and up to 100 MB (groq-python's `batches.create` doc)
_WINDOW = re.compile(r"^(\d+)([hd])$")
_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
_EXPIRED_MSG = "This request could not be executed before the completion window expired."
_CANCELLED_MSG = "This request was not executed because the batch was cancelled."


def window_seconds(text: object) -> int | None:
    """Seconds of a completion window Groq accepts ("24h" to "7d"), else None."""
    m = _WINDOW.match(text) if isinstance(text, str) else None
    if m is None:
        return None
    secs = int(m.group(1)) * (3600 if m.group(2) == "h" else 86400)
    return secs if 86400 <= secs <= 7 * 86400 else None


@dataclass
class _File:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
        }


@dataclass
class _Batch:
    id: str
    input_file_id: str
    completion_window: str
    metadata: Any
    lines: list[Any]
    outcome: str
    t0: float
    created_at: int
    window_s: int
    status: str = "validating"
    stamps: dict[str, int] = field(default_factory=dict)
    ok: list[bool] = field(default_factory=list)
    done: int = 0
    cancel_at: float | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None


class BatchAPI:
    """The Files + Batches endpoints of one `SimulatedServer` (`server.batch_api`)."""

    def __init__(self, server: Host) -> None:
        self.server = server
        self.validating_s = 0.05
        self.seconds = 0.5
        self.seconds_per_line = 0.0
        self.finalizing_s = 0.05
        self.cancelling_s = 0.05
        self.max_lines = MAX_BATCH_LINES
        self.max_bytes = MAX_BATCH_BYTES
        self.outcomes: collections.deque[str] = collections.deque()
        self.files: dict[str, _File] = {}
        self.batches: dict[str, _Batch] = {}

    def add_routes(self, router: web.UrlDispatcher, prefix: str) -> None:
        """Register the endpoints under `prefix` (e.g. `/openai/v1`)."""
        router.add_post(prefix + "/files", self._upload)
        router.add_get(prefix + "/files/{id}", self._file_info)
        router.add_get(prefix + "/files/{id}/content", self._file_content)
        router.add_post(prefix + "/batches", self._create)
        router.add_get(prefix + "/batches", self._list)
        router.add_get(prefix + "/batches/{id}", self._retrieve)
        router.add_post(prefix + "/batches/{id}/cancel", self._cancel)

    # --- plumbing ------------------------------------------------------------------------

    def _enter(self, request: web.Request) -> web.Response | None:
        rec = self.server.record_request(request)
        rec.outcome = "completed"
        if not self.server.authorized(request):
            rec.authorized = False
            return self.server.unauthorized_reply()
        return None

    @staticmethod
    def _error(status: int, message: str, param: str | None = None) -> web.Response:
        body = Rejection(status, message, param=param).body()
        return web.json_response(body, status=status, dumps=lambda o: orjson.dumps(o).decode())

    @staticmethod
    def _ok(obj: dict[str, Any]) -> web.Response:
        return web.Response(body=orjson.dumps(obj), content_type="application/json")

    def _store(self, filename: str, purpose: str, data: bytes) -> _File:
        f = _File("file_" + secrets.token_hex(13), filename, purpose, data, int(time.time()))
        self.files[f.id] = f
        return f

    # --- files ---------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        if (refused := self._enter(request)) is not None:
            return refused
        if not request.content_type.startswith("multipart/"):
            return self._error(400, "the request must be multipart/form-data")
        form = await request.post()
        purpose, upload = form.get("purpose"), form.get("file")
        if purpose != "batch":
            return self._error(400, "'purpose' : value must be one of [batch]", "purpose")
        if not isinstance(upload, web.FileField):
            return self._error(400, "'file' : a file is required", "file")
        data = upload.file.read()
        if len(data) > self.max_bytes:
            return self._error(400, f"file is larger than the {self.max_bytes} byte limit", "file")
        return self._ok(self._store(upload.filename, "batch", data).to_dict())

    async def _file_info(self, request: web.Request) -> web.Response:
        if (refused := self._enter(request)) is not None:
            return refused
        f = self.files.get(request.match_info["id"])
        if f is None:
            return self._error(404, f"file {request.match_info['id']} not found")
        return self._ok(f.to_dict())

    async def _file_content(self, request: web.Request) -> web.Response:
        if (refused := self._enter(request)) is not None:
            return refused
        f = self.files.get(request.match_info["id"])
        if f is None:
            return self._error(404, f"file {request.match_info['id']} not found")
        return web.Response(body=f.data, content_type="application/octet-stream")

    # --- batches -------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        if (refused := self._enter(request)) is not None:
            return refused
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return self._error(400, "the request body is not valid JSON")
        if not isinstance(body, dict):
            return self._error(400, "the request body must be a JSON object")
        refused = self._check_create(body)
        if refused is not None:
            return refused
        f = self.files[body["input_file_id"]]
        now = time.time()
        b = _Batch(
            id="batch_" + secrets.token_hex(13),
            input_file_id=f.id,
            completion_window=body["completion_window"],
            metadata=body.get("metadata"),
            lines=f.data.splitlines(),
            outcome=self.outcomes.popleft() if self.outcomes else "completed",
            t0=time.monotonic(),
            created_at=int(now),
            window_s=window_seconds(body["completion_window"]) or 0,
        )
        self.batches[b.id] = b
        return self._ok(self._view(b))

    def _check_create(self, body: dict[str, Any]) -> web.Response | None:
        if body.get("endpoint") != "/v1/chat/completions":
            return self._error(
                400, "'endpoint' : value must be one of [/v1/chat/completions]", "endpoint"
            )
        if window_seconds(body.get("completion_window")) is None:
            return self._error(
                400,
                "'completion_window' : must be a duration from 24h to 7d, e.g. 24h or 7d",
                "completion_window",
            )
        fid = body.get("input_file_id")
        f = self.files.get(fid) if isinstance(fid, str) else None
        if f is None:
            return self._error(404, f"input file {fid!r} not found", "input_file_id")
        if f.purpose != "batch":
            return self._error(400, "the input file's purpose must be batch", "input_file_id")
        return None

    async def _list(self, request: web.Request) -> web.Response:
        if (refused := self._enter(request)) is not None:
            return refused
        data = [self._view(b) for b in self.batches.values()]
        return self._ok({"object": "list", "data": data})

    async def _retrieve(self, request: web.Request) -> web.Response:
        if (refused := self._enter(request)) is not None:
            return refused
        b = self.batches.get(request.match_info["id"])
        if b is None:
            return self._error(404, f"batch {request.match_info['id']} not found")
        return self._ok(self._view(b))

    async def _cancel(self, request: web.Request) -> web.Response:
        if (refused := self._enter(request)) is not None:
            return refused
        b = self.batches.get(request.match_info["id"])
        if b is None:
            return self._error(404, f"batch {request.match_info['id']} not found")
        self._advance(b, time.monotonic())
        if b.status in _TERMINAL:
            return self._error(400, f"cannot cancel a batch that is {b.status}")
        if b.cancel_at is None:
            b.cancel_at = time.monotonic()
            b.status = "cancelling"
            b.stamps["cancelling_at"] = int(time.time())
        return self._ok(self._view(b))

    # --- the compressed clock ------------------------------------------------------------

    def _view(self, b: _Batch) -> dict[str, Any]:
        self._advance(b, time.monotonic())
        ok = sum(b.ok[: b.done])
        stamps = {
            k: b.stamps.get(k)
            for k in (
                "in_progress_at",
                "finalizing_at",
                "completed_at",
                "failed_at",
                "expired_at",
                "cancelling_at",
                "cancelled_at",
            )
        }
        return {
            "id": b.id,
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "errors": {"object": "list", "data": b.errors} if b.errors else None,
            "input_file_id": b.input_file_id,
            "completion_window": b.completion_window,
            "status": b.status,
            "output_file_id": b.output_file_id,
            "error_file_id": b.error_file_id,
            "created_at": b.created_at,
            "expires_at": b.created_at + b.window_s,
            **stamps,
            "request_counts": {"total": len(b.lines), "completed": ok, "failed": b.done - ok},
            "metadata": b.metadata,
        }

    def _duration(self, b: _Batch) -> float:
        return self.seconds + self.seconds_per_line * len(b.lines)

    def _advance(self, b: _Batch, now: float) -> None:
        """Bring `b` to where the compressed clock says it is by `now`."""
        if b.status in _TERMINAL:
            return
        elapsed = now - b.t0
        if b.status == "validating" and elapsed >= self.validating_s:
            self._validated(b)
            if b.status == "failed":
                return
        if b.cancel_at is not None:
            self._advance_cancel(b, now)
            return
        if b.status in ("in_progress", "finalizing"):
            self._advance_progress(b, elapsed - self.validating_s)

    def _validated(self, b: _Batch) -> None:
        b.errors = self._line_errors(b)
        if b.outcome == "failed" and not b.errors:
            b.errors = [{"code": "simulated_failure", "message": "simulated batch failure"}]
        if b.errors:
            b.status = "failed"
            b.stamps["failed_at"] = int(time.time())
            return
        srv = self.server
        b.ok = [
            check_chat(orjson.loads(raw)["body"], srv.models, srv.any_model) is None
            for raw in b.lines
        ]
        b.status = "in_progress"
        b.stamps["in_progress_at"] = int(time.time())

    def _line_errors(self, b: _Batch) -> list[dict[str, Any]]:
        """What makes Groq fail a whole batch at validation: too many lines, bad lines."""
        if len(b.lines) > self.max_lines:
            msg = f"the input file has {len(b.lines)} lines; at most {self.max_lines} are allowed"
            return [{"code": "too_many_lines", "message": msg, "line": None, "param": None}]
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        for n, raw in enumerate(b.lines, 1):
            problem = _line_problem(raw, seen)
            if problem is not None:
                errors.append({"code": "invalid_request", "message": problem, "line": n})
        return errors[:100]

    def _advance_progress(self, b: _Batch, running: float) -> None:
        n = len(b.lines)
        duration = self._duration(b)
        frac = min(1.0, running / duration) if duration > 0 else 1.0
        expire_at = _expiry(b.outcome)
        if expire_at is not None and frac >= expire_at:
            b.done = int(expire_at * n)
            self._finish(b, "expired", "batch_expired", _EXPIRED_MSG)
            return
        b.done = int(frac * n)
        if frac < 1.0:
            return
        if b.status == "in_progress":
            b.status = "finalizing"
            b.stamps["finalizing_at"] = int(time.time())
        if running >= duration + self.finalizing_s:
            self._finish(b, "completed", "", "")

    def _advance_cancel(self, b: _Batch, now: float) -> None:
        assert b.cancel_at is not None
        if b.status == "cancelling" and b.ok:
            running = b.cancel_at - b.t0 - self.validating_s
            duration = self._duration(b)
            frac = min(1.0, running / duration) if duration > 0 else 1.0
            b.done = max(b.done, int(max(0.0, frac) * len(b.lines)))
        if now - b.cancel_at >= self.cancelling_s:
            self._finish(b, "cancelled", "batch_cancelled", _CANCELLED_MSG)

    def _finish(self, b: _Batch, status: str, left_code: str, left_msg: str) -> None:
        """Write the output and error files (the lines run so far) and end the batch."""
        out: list[bytes] = []
        err: list[bytes] = []
        for i, raw in enumerate(b.lines):
            line = orjson.loads(raw)
            cid = line["custom_id"]
            if i < b.done:
                result, ok = self._run_line(cid, line["body"])
                (out if ok else err).append(result)
            elif left_code:
                err.append(_result(cid, None, {"code": left_code, "message": left_msg}))
        if out:
            b.output_file_id = self._store(f"{b.id}_output.jsonl", "batch_output", _join(out)).id
        if err:
            b.error_file_id = self._store(f"{b.id}_error.jsonl", "batch_output", _join(err)).id
        b.status = status
        b.stamps[f"{status}_at"] = int(time.time())

    def _run_line(self, cid: str, body: dict[str, Any]) -> tuple[bytes, bool]:
        """One request's result line, from the same checks and replies as the chat endpoint."""
        srv = self.server
        rid = "req_" + secrets.token_hex(13)
        why = check_chat(body, srv.models, srv.any_model)
        if why is not None:
            response = {"status_code": why.status, "request_id": rid, "body": why.body()}
            return _result(cid, response, None), False
        plan = ReplyPlan(
            {**body, "stream": False},
            rid,
            dialect=srv.dialect,
            output_tokens=srv.output_tokens,
            reasoning_tokens=srv.reasoning_tokens,
            reasoning_models=srv.reasoning_models,
            tokens_per_chunk=srv.tokens_per_chunk,
            seed=srv.seed,
        )
        completion = orjson.loads(plan.completion(srv.pacing))
        response = {"status_code": 200, "request_id": rid, "body": completion}
        return _result(cid, response, None), True


def _expiry(outcome: str) -> float | None:
    """The share of lines done when a scripted "expired[:share]" batch expires."""
    if outcome == "expired":
        return 0.0
    if outcome.startswith("expired:"):
        return min(1.0, max(0.0, float(outcome.split(":", 1)[1])))
    return None


def _line_problem(raw: bytes, seen: set[str]) -> str | None:
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "the line is not valid JSON"
    if not isinstance(line, dict):
        return "the line is not a JSON object"
    cid = line.get("custom_id")
    if not isinstance(cid, str) or not cid:
        return "custom_id must be a non-empty string"
    if cid in seen:
        return f"duplicate custom_id {cid!r}"
    seen.add(cid)
    if line.get("method") != "POST" or line.get("url") != "/v1/chat/completions":
        return "method must be POST and url /v1/chat/completions"
    if not isinstance(line.get("body"), dict):
        return "body must be an object"
    return None


def _result(cid: str, response: dict[str, Any] | None, error: dict[str, Any] | None) -> bytes:
    obj = {
        "id": "batch_req_" + secrets.token_hex(13),
        "custom_id": cid,
        "response": response,
        "error": error,
    }
    return orjson.dumps(obj)


def _join(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"
