"""Keep the cyclic garbage collector's full passes off the first token: `gc.freeze()`, when the
process's owner asks for it.

A full (generation 2) collection walks every container object the process holds — on a bare
`import groqstream` some 33,000 (aiohttp, anyio, ddsketch, the standard library), ~4 ms of
CPU, far more in a real service — and the event loop is stopped while it does. Start-up state
lives as long as the process: walking it finds nothing. `gc.freeze()` moves everything alive
into the collector's permanent generation, so later full passes walk only what was made since.

The price is the process's to weigh, so a library does not pay it behind its user's back: an
object alive at the freeze that later becomes part of unreachable cycle is never collected
(nor is a socket inside such a cycle ever closed). So:

- the `groqstream` command (CLI, bench) freezes right after its imports: it owns its process;
- a service opts in with `groqstream.freeze_startup_state()` once its start-up is done (e.g. at
  the end of a FastAPI lifespan's start), or with `GROQSTREAM_GC_FREEZE=1`, which makes the
  first client to open its connection pool do it;
- `GROQSTREAM_GC_FREEZE=0` keeps the command from freezing too.
"""

from __future__ import annotations

import gc
import os

__all__ = ["freeze_on_first_client", "freeze_startup_state", "frozen_by_groqstream"]

_done = False
_NO = ("0", "false", "no", "off")


def _setting() -> str:
    return os.environ.get("GROQSTREAM_GC_FREEZE", "").strip().lower()


def freeze_startup_state(*, force: bool = False) -> bool:
    """Freeze everything alive now, once per process; False if done before or opted out
    (`GROQSTREAM_GC_FREEZE=0`, unless `force`). Call it when start-up is over: what is alive
    then is treated as living for good."""
    global _done
    if _done or (_setting() in _NO and not force):
        return False
    _done = True
    gc.freeze()
    return True


def freeze_on_first_client() -> bool:
    """What a client does as it opens its pool: freeze only if `GROQSTREAM_GC_FREEZE=1`."""
    if _setting() in ("1", "true", "yes", "on"):
        return freeze_startup_state()
    return False


def frozen_by_groqstream() -> bool:
    """True once groqstream froze the start-up state in this process."""
    return _done
