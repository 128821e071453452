"""Keep the cyclic garbage collector's full passes off the first token.

A full (generation 2) collection walks every container object the process holds — on a bare
`import groqstream` some 33,000 (aiohttp, anyio, ddsketch, the standard library), ~4 ms of
CPU, far more in a real service — and the event loop is stopped while it does. Those objects
live as long as the process: walking them finds nothing. `gc.freeze()` moves everything alive
into the collector's permanent generation, so later full passes walk only what was made since.

groqstream does that once per process, when the first client opens its connection pool
(import-time and start-up state is built by then), unless `GROQSTREAM_GC_FREEZE=0` is set.
Garbage cycles already unreachable at that instant are kept for good; a process that wants
them gone first calls `gc.collect()` before its first client opens, or opts out. The CLI and
the benchmark runners freeze right after their imports too.
"""

from __future__ import annotations

import gc
import os

__all__ = ["freeze_startup_state", "frozen_by_groqstream"]

_done = False


def freeze_startup_state() -> bool:
    """Freeze what is alive now, once per process (False if done before or opted out)."""
    global _done
    if _done or os.environ.get("GROQSTREAM_GC_FREEZE", "1").strip() in ("0", "false", "no"):
        return False
    _done = True
    gc.freeze()
    return True


def frozen_by_groqstream() -> bool:
    """True once groqstream froze the start-up state in this process."""
    return _done
