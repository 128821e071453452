"""The live page's web application (aiohttp.web), served by `groqstream serve --ui`.

Routes:

- ``GET /`` the chat page; ``GET /fanout`` the fan-out view; ``GET /static/<file>``.
- ``GET /api/config`` the default model, known models and what the backend is.
- ``POST /api/chat`` {"prompt", "model"?, "system"?, "max_tokens"?, "tools"?: bool} → the
  plain SSE relay (closing the response cancels the upstream stream).
- ``POST /api/chat/vercel`` a `useChat` request → the Vercel AI SDK UI message stream.
- ``POST /api/streams`` (same body as /api/chat, plus "protocol") → {"key", "url"}: a
  resumable stream on the `RelayHub`; ``GET /api/streams/<key>`` serves it (Last-Event-ID);
  ``DELETE /api/streams/<key>`` cancels it.
- ``POST /api/fanout`` {"n", "concurrency", "prompt", "model"?, "max_tokens"?} → SSE of the
  fan-out view (see `fanout_view`).

Bad requests get a 400 with ``{"error": {"type", "message"}}``.
"""

from __future__ import annotations

import importlib.resources
from typing import Any

import orjson
from aiohttp import web

from ..client import Client
from ..errors import GroqStreamError
from ..models import DEFAULT_MODEL, GPT_OSS_20B, GPT_OSS_120B, KIMI_K2_INSTRUCT
from .aiohttp_adapter import aiohttp_response, write_relay
from .encoders import PROTOCOLS, SSE_HEADERS
from .errors import error_body
from .fanout_view import FanoutRun
from .hub import RelayHub
from .messages import ui_messages_to_chat
from .relay import Pump, Relay

__all__ = ["BadRequest", "UIConfig", "create_app"]

_STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_MAX_TOKENS = 32_768
_MAX_FANOUT = 1000
_MAX_CONCURRENCY = 256
DEMO_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}
"""The tool the page offers the model when its "tools" box is ticked."""


class BadRequest(GroqStreamError, ValueError):
    """A request to the page's API that cannot be served (answered with a 400)."""


class UIConfig:
    """What the app talks to: an OpenAI-compatible base URL, key, default model, a label."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str = DEFAULT_MODEL,
        backend: str = "",
        hub_ttl: float = 60.0,
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.model = model
        self.backend = backend or base_url
        self.hub_ttl = hub_ttl

    def __repr__(self) -> str:  # never the key
        return f"UIConfig(base_url={self.base_url!r}, model={self.model!r})"


_CONFIG = web.AppKey("config", UIConfig)
_CLIENT = web.AppKey("client", Client)
_HUB = web.AppKey("hub", RelayHub)


def create_app(config: UIConfig) -> web.Application:
    """The aiohttp application of the live page (a `Client` and a `RelayHub` live with it)."""
    app = web.Application()
    app[_CONFIG] = config
    app.cleanup_ctx.append(_lifetime)
    r = app.router
    r.add_get("/", _page("index.html"))
    r.add_get("/fanout", _page("fanout.html"))
    r.add_get("/static/{name}", _static)
    r.add_get("/api/config", _config)
    r.add_post("/api/chat", _chat)
    r.add_post("/api/chat/vercel", _chat_vercel)
    r.add_post("/api/streams", _start_stream)
    r.add_get("/api/streams/{key}", _serve_stream)
    r.add_delete("/api/streams/{key}", _cancel_stream)
    r.add_post("/api/fanout", _fanout)
    return app


async def _lifetime(app: web.Application) -> Any:
    cfg = app[_CONFIG]
    async with Client(api_key=cfg.api_key, base_url=cfg.base_url, default_model=cfg.model) as c:
        app[_CLIENT] = c
        async with RelayHub(ttl=cfg.hub_ttl) as hub:
            app[_HUB] = hub
            yield


# --- static files ----------------------------------------------------------------------------


def _read_static(name: str) -> bytes | None:
    if (
        "/" in name
        or "\\" in name
        or name.startswith(".")
        or not any(name.endswith(s) for s in _STATIC_TYPES)
    ):
        return None
    f = importlib.resources.files("groqstream.ui").joinpath("static").joinpath(name)
    return f.read_bytes() if f.is_file() else None


def _static_response(name: str) -> web.Response:
    body = _read_static(name)
    if body is None:
        raise web.HTTPNotFound(text=f"no static file {name!r}")
    ctype = _STATIC_TYPES[name[name.rindex(".") :]]
    return web.Response(body=body, headers={"Content-Type": ctype, "Cache-Control": "no-cache"})


def _page(name: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return _static_response(name)

    return handler


async def _static(request: web.Request) -> web.Response:
    return _static_response(request.match_info["name"])


async def _config(request: web.Request) -> web.Response:
    cfg = request.app[_CONFIG]
    models = sorted({cfg.model, GPT_OSS_20B, GPT_OSS_120B, KIMI_K2_INSTRUCT})
    return web.json_response({"model": cfg.model, "models": models, "backend": cfg.backend})


# --- request bodies --------------------------------------------------------------------------


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _int(body: dict[str, Any], key: str, default: int | None, lo: int, hi: int) -> int | None:
    v = body.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise BadRequest(f"`{key}` must be an integer from {lo} to {hi}, got {v!r}")
    return v


def _str(body: dict[str, Any], key: str, default: str | None = None) -> str | None:
    v = body.get(key, default)
    if v is not None and not isinstance(v, str):
        raise BadRequest(f"`{key}` must be a string")
    return v


def chat_params(body: dict[str, Any], default_model: str) -> dict[str, Any]:
    """Keyword arguments for `client.stream` from a page request body (BadRequest if bad)."""
    prompt = _str(body, "prompt")
    if not prompt or not prompt.strip():
        raise BadRequest("`prompt` must be a non-empty string")
    params: dict[str, Any] = {"model": _str(body, "model") or default_model, "prompt": prompt}
    system = _str(body, "system")
    if system:
        params["system"] = system
    max_tokens = _int(body, "max_tokens", None, 1, _MAX_TOKENS)
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    if body.get("tools") is True:
        params["tools"] = [DEMO_TOOL]
    return params


def _bad(e: GroqStreamError) -> web.Response:
    return web.json_response(error_body(e), status=400)


# --- the API ---------------------------------------------------------------------------------


async def _chat(request: web.Request) -> web.StreamResponse:
    try:
        params = chat_params(await _json(request), request.app[_CONFIG].model)
    except BadRequest as e:
        return _bad(e)
    stream = request.app[_CLIENT].stream(**params)
    return await aiohttp_response(request, stream, protocol="sse")


async def _chat_vercel(request: web.Request) -> web.StreamResponse:
    try:
        body = await _json(request)
        messages = ui_messages_to_chat(body.get("messages"))
        model = _str(body, "model") or request.app[_CONFIG].model
    except GroqStreamError as e:
        return _bad(e)
    stream = request.app[_CLIENT].stream(model=model, messages=messages)
    return await aiohttp_response(request, stream, protocol="vercel")


async def _start_stream(request: web.Request) -> web.Response:
    try:
        body = await _json(request)
        params = chat_params(body, request.app[_CONFIG].model)
        protocol = _str(body, "protocol", "sse") or "sse"
        if protocol not in PROTOCOLS:
            raise BadRequest("`protocol` must be 'sse' or 'vercel'")
        key = request.app[_HUB].start(request.app[_CLIENT].stream(**params), protocol=protocol)
    except GroqStreamError as e:
        return _bad(e)
    return web.json_response({"key": key, "url": f"/api/streams/{key}"})


async def _serve_stream(request: web.Request) -> web.StreamResponse:
    return await request.app[_HUB].aiohttp_response(request, request.match_info["key"])


async def _cancel_stream(request: web.Request) -> web.Response:
    found = request.app[_HUB].cancel(request.match_info["key"])
    return web.Response(status=204 if found else 404)


async def _fanout(request: web.Request) -> web.StreamResponse:
    cfg = request.app[_CONFIG]
    try:
        body = await _json(request)
        n = _int(body, "n", 20, 1, _MAX_FANOUT) or 1
        concurrency = _int(body, "concurrency", 4, 1, _MAX_CONCURRENCY) or 1
        params = chat_params(body, cfg.model)
    except BadRequest as e:
        return _bad(e)
    requests = [{**params, "prompt": f"{params['prompt']} (#{i + 1})"} for i in range(n)]
    run = FanoutRun(request.app[_CLIENT], requests, concurrency)
    return await write_relay(request, Relay(Pump(run.produce), SSE_HEADERS))
