"""What opening a connection costs the client's CPU: groqstream's pool beside asyncio's own
`open_connection` and aiohttp's connector, `--n` connections opened at once (as the first
burst of a service at concurrency n does), best of `--rounds`, in µs of process CPU each.

    python benchmarks/connect_cost.py            # plain HTTP, 512 at once
    python benchmarks/connect_cost.py --tls      # HTTPS (TLS 1.3, full handshakes)

The server is benchmarks/sse_server.py in its own process. groqstream's pool opens with its
default connect timeout (10 s), as `Client` does.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import ssl
from collections.abc import Callable, Coroutine
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from groqstream._pool import ConnStamps, Pool
from groqstream._tls import client_context
from harness import _CERTS, server

Opener = Callable[[str, int, int, "str | None"], Coroutine[None, None, float]]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def groqstream_pool(host: str, port: int, n: int, cafile: str | None) -> float:
    tls = client_context(cafile) if cafile else None
    if tls is not None:
        tls.sessions._sessions.clear()  # every handshake a full one, as for the others
    pool = Pool(
        host=host,
        port=port,
        ssl_context=tls,
        limit=0,
        keepalive_idle=60,
        dns_ttl=60,
        connect_timeout=10.0,
    )
    t = _cpu()
    conns = await asyncio.gather(*(pool.acquire(ConnStamps()) for _ in range(n)))
    took = _cpu() - t
    for c in conns:
        c.close()
    await pool.aclose()
    return took


async def asyncio_streams(host: str, port: int, n: int, cafile: str | None) -> float:
    tls = ssl.create_default_context(cafile=cafile) if cafile else None
    t = _cpu()
    pairs = await asyncio.gather(*(asyncio.open_connection(host, port, ssl=tls) for _ in range(n)))
    took = _cpu() - t
    for _, w in pairs:
        w.close()
    await asyncio.sleep(0.1)  # (asyncio's TLS transports close a turn later)
    return took


async def aiohttp_connector(host: str, port: int, n: int, cafile: str | None) -> float:
    from aiohttp.client_reqrep import ClientRequest

    tls = ssl.create_default_context(cafile=cafile) if cafile else None
    conn = aiohttp.TCPConnector(limit=0, ssl=tls if tls is not None else False)
    url = URL(f"{'https' if cafile else 'http'}://{host}:{port}/")
    timeout = aiohttp.ClientTimeout(sock_connect=10.0)
    t = _cpu()
    got = await asyncio.gather(
        *(conn.connect(ClientRequest("GET", url), [], timeout) for _ in range(n))
    )
    took = _cpu() - t
    for c in got:
        c.close()
    await conn.close()
    return took


PEERS: dict[str, Opener] = {
    "groqstream Pool": groqstream_pool,
    "asyncio.open_connection": asyncio_streams,
    "aiohttp TCPConnector": aiohttp_connector,
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=512, help="connections opened at once")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--tls", action="store_true")
    a = p.parse_args()
    best: dict[str, float] = {}
    with server(0.0, 0.0, 1, tls=a.tls) as url:
        u = urlsplit(url)
        cafile = _CERTS[url] if a.tls else None
        for _ in range(a.rounds):
            for name, opener in PEERS.items():  # alternated, round by round
                took = asyncio.run(opener(u.hostname or "127.0.0.1", u.port or 80, a.n, cafile))
                best[name] = min(best.get(name, took), took)
    print(f"{a.n} connections at once, {'HTTPS' if a.tls else 'HTTP'}, best of {a.rounds}")
    print("| client | µs of CPU per connection |\n|---|---:|")
    for name, took in best.items():
        print(f"| {name} | {took * 1e6 / a.n:.0f} |")


if __name__ == "__main__":
    main()
