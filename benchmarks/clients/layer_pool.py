"""groqstream's pool, HTTP/1.1 and TLS alone: every response read whole, nothing parsed."""

from __future__ import annotations

from common import main
from layers import closer, opener, read_only

if __name__ == "__main__":
    main(opener, read_only, closer)
