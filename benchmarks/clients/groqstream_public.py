"""groqstream reading through aiohttp's public `readany()` only: the branch groqstream falls
back to when aiohttp's internals are not the ones `_aiohttp_compat` was checked against."""

from __future__ import annotations

import groqstream_client
from common import main

from groqstream import _aiohttp_compat
from groqstream import stream as _stream

_stream.read_available = _aiohttp_compat.read_available_public  # type: ignore[attr-defined]

if __name__ == "__main__":
    main(groqstream_client.opener, groqstream_client.one, groqstream_client.closer)
