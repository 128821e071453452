"""The one place that imports Ray: a clear error when the extra is missing, and a session
that starts a local instance (or joins a cluster) and shuts down only what it started."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from types import ModuleType

from ..errors import ConfigError

__all__ = ["ray_session", "require_ray"]

log = logging.getLogger("groqstream.distributed")


def require_ray() -> ModuleType:
    """The `ray` module, or a `ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "groqstream.distributed needs Ray: pip install 'groqstream[ray]'"
        ) from None
    module: ModuleType = ray  # (without Ray's package its type is Any to mypy)
    return module


@contextlib.contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[ModuleType]:
    """Use the Ray instance this process is already connected to; else join `address` (a
    cluster started with `ray start --head`), or start a local instance over this machine's
    cores (`num_cpus` of them if given). Shuts down only an instance it connected itself."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    ray.init(
        address=address,
        num_cpus=num_cpus if address is None else None,
        include_dashboard=False,
        configure_logging=False,
    )
    try:
        yield ray
    finally:
        ray.shutdown()
