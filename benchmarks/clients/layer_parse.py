"""groqstream's pool plus its sans-IO stream core (SSE, chunk assembly), no `ChatStream`."""

from __future__ import annotations

from common import main
from layers import closer, opener, parse

if __name__ == "__main__":
    main(opener, parse, closer)
