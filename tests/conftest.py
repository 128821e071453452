"""Shared fixtures: a simulated Groq server on loopback and a client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from groqstream import Client, Timeouts
from groqstream.testing import SimulatedServer
from tls_certs import make_cert_pair


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 (one pair per session)."""
    return make_cert_pair(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def server() -> AsyncIterator[SimulatedServer]:
    """A fast simulated server (5 ms TTFT, 2,000 tokens/s) on an ephemeral loopback port."""
    async with SimulatedServer(ttft=0.005, tokens_per_second=2000.0, output_tokens=24) as srv:
        yield srv


@pytest.fixture
async def client(server: SimulatedServer) -> AsyncIterator[Client]:
    """A client for `server` with short timeouts, so failures show quickly."""
    timeouts = Timeouts(connect=2.0, first_byte=5.0, idle=2.0, total=30.0)
    async with Client(base_url=server.base_url, timeout=timeouts) as c:
        yield c
