"""groqstream's pytest plugin: a `simulated_server` fixture for testing your own code.

Installed with groqstream and registered through the `pytest11` entry point, so with
``pip install 'groqstream[test]'`` a test can simply ask for it::

    import pytest
    import groqstream

    pytestmark = pytest.mark.asyncio  # or asyncio_mode = "auto" in your pytest settings

    async def test_summary(simulated_server):
        async with groqstream.Client(base_url=simulated_server.base_url) as client:
            text = (await client.complete(prompt="hi", max_tokens=5)).text
        assert len(text.split()) == 5

The fixture is a started `SimulatedServer` on a free loopback port, fast by default (5 ms to the
first token, 2,000 tokens/s). Give it other options per test with the marker
``@pytest.mark.simulated_server(ttft=0.2, tokens_per_second=50, ...)`` (any keyword argument
of `SimulatedServer`).

Async fixtures and tests need pytest-asyncio (part of the `test` extra). In its default
"strict" mode, mark async tests with ``@pytest.mark.asyncio`` (or ``pytestmark`` as above);
with ``asyncio_mode = "auto"`` no marks are needed.

It lives in its own small top-level package, outside `groqstream`, because pytest loads every
installed plugin in every run of every project: loading it imports only pytest (and
pytest-asyncio, which pytest has loaded already), while groqstream, the simulated server and
aiohttp are imported when a test first uses the fixture.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from groqstream.testing import SimulatedServer

__all__ = ["DEFAULTS", "simulated_server"]

DEFAULTS: dict[str, Any] = {"ttft": 0.005, "tokens_per_second": 2000.0}
"""The fixture's `SimulatedServer` options unless a `simulated_server` marker overrides them."""

MARKER = "simulated_server"


def pytest_configure(config: pytest.Config) -> None:
    """Register the `simulated_server` marker (so `--strict-markers` accepts it)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): SimulatedServer options for the simulated_server fixture",
    )


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker(MARKER)
    return {**DEFAULTS, **(marker.kwargs if marker is not None else {})}


def _fixture() -> Any:
    """The fixture: async with pytest-asyncio; without it, one that says what is missing (the
    plugin itself must load in any environment where groqstream is installed)."""
    try:
        import pytest_asyncio
    except ImportError:

        @pytest.fixture(name="simulated_server")
        def unavailable() -> None:
            pytest.fail(
                "the simulated_server fixture needs pytest-asyncio: pip install 'groqstream[test]'",
                pytrace=False,
            )

        return unavailable

    @pytest_asyncio.fixture(name="simulated_server")
    async def server(request: pytest.FixtureRequest) -> AsyncIterator[SimulatedServer]:
        from groqstream.testing import SimulatedServer

        async with SimulatedServer(**_options(request)) as srv:
            yield srv

    return server


simulated_server = _fixture()
"""A started `SimulatedServer` on a free loopback port (see the module docstring)."""
