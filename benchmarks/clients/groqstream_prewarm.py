"""groqstream as a service that knows its concurrency runs it: `Client(prewarm=N)` opens and
handshakes the N connections before the timed window (the groqstream_client row pays them
inside it, with TLS sessions resumed)."""

from __future__ import annotations

import os

os.environ["BENCH_PREWARM"] = "1"

from common import main
from groqstream_client import closer, one, opener

if __name__ == "__main__":
    main(opener, one, closer)
