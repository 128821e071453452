"""The HTTP calls of the groq-batch backend: Groq's Files and Batches endpoints.

Thin: each call goes through the client's `Transport` (same key, TLS checks, redirect refusal
and typed status errors as a chat request) and its `RetryPolicy`; what the answers mean is
`remote.py`'s business.
"""

from __future__ import annotations

import secrets
from functools import partial
from typing import Any

import orjson

from .._retry import RetryPolicy
from .._transport import Timeouts, Transport
from ..errors import ProtocolError

__all__ = ["BatchesAPI", "multipart"]

ENDPOINT = "/v1/chat/completions"
_JSON_LIMIT = 16 * 1024 * 1024
_FILE_LIMIT = 4 * 1024 * 1024 * 1024  # an output file of 50,000 long answers fits


def multipart(fields: dict[str, str], name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with text `fields` and one file part; (body, content type)."""
    boundary = "groqstream-" + secrets.token_hex(12)
    parts = []
    for key, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; "
        f'name="{name}"; filename="{filename}"\r\n'
        "Content-Type: application/jsonl\r\n\r\n"
    )
    parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class BatchesAPI:
    """`/files` and `/batches` of one base URL, through a client's transport and retries."""

    def __init__(self, transport: Transport, retry: RetryPolicy, timeouts: Timeouts) -> None:
        self._transport = transport
        self._retry = retry
        self._timeouts = timeouts

    async def upload(self, filename: str, data: bytes) -> dict[str, Any]:
        """`POST /files` with `purpose=batch`: the file object (its `id`)."""
        body, ctype = multipart({"purpose": "batch"}, "file", filename, data)
        return await self._json("POST", "/files", body, ctype)

    async def create(self, file_id: str, completion_window: str) -> dict[str, Any]:
        """`POST /batches`: a new batch of the uploaded file. A retry after a lost reply first
        looks for a batch already made of that file, so one file never becomes two batches."""

        async def attempt(n: int) -> dict[str, Any]:
            if n > 1:
                for b in await self.list():
                    if b.get("input_file_id") == file_id:
                        return b
            body = {
                "input_file_id": file_id,
                "endpoint": ENDPOINT,
                "completion_window": completion_window,
            }
            return await self._json_once("POST", "/batches", orjson.dumps(body))

        return await self._retry.run(attempt)

    async def retrieve(self, batch_id: str) -> dict[str, Any]:
        """`GET /batches/{id}`."""
        return await self._json("GET", f"/batches/{batch_id}")

    async def cancel(self, batch_id: str) -> dict[str, Any]:
        """`POST /batches/{id}/cancel`."""
        return await self._json("POST", f"/batches/{batch_id}/cancel", b"")

    async def list(self) -> list[dict[str, Any]]:
        """`GET /batches`: the organisation's batches."""
        got = await self._json_once("GET", "/batches")
        data = got.get("data")
        return [b for b in data if isinstance(b, dict)] if isinstance(data, list) else []

    async def content(self, file_id: str) -> bytes:
        """`GET /files/{id}/content`: a whole output or error file."""
        return await self._retry.run(
            lambda n: self._call("GET", f"/files/{file_id}/content", None, None, _FILE_LIMIT)
        )

    async def _json(
        self, method: str, path: str, data: bytes | None = None, ctype: str | None = None
    ) -> dict[str, Any]:
        return await self._retry.run(lambda n: self._json_once(method, path, data, ctype))

    async def _json_once(
        self, method: str, path: str, data: bytes | None = None, ctype: str | None = None
    ) -> dict[str, Any]:
        raw = await self._call(method, path, data, ctype or "application/json", _JSON_LIMIT)
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            raise ProtocolError(f"{method} {path}: the reply is not a JSON object: {raw[:200]!r}")
        return obj

    async def _call(
        self, method: str, path: str, data: bytes | None, ctype: str | None, limit: int
    ) -> bytes:
        """One attempt: send, check the status, read the whole reply within `total`."""
        t = self._transport
        expect = None if path.endswith("/content") else "application/json"
        send = partial(
            t.request, method, path, data=data, content_type=ctype or "application/json",
            expect=expect,
        )  # fmt: skip
        return (await t.whole_reply(send, limit))[1]
