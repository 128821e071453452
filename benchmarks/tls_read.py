"""What one `ssl.SSLObject.read(n)` costs per TLS record, by the size `n` asked for.

CPython allocates the whole `n` for the result and then cuts it to what was decrypted. Past
glibc's mmap threshold (128 KiB) that allocation is an mmap and a munmap on every call: a
token stream's record of a few hundred bytes then costs ~10x more to read. This is why the
pool asks for 64 KiB (`_pool._TLS_READ`), not the 256 KiB asyncio's transports ask of a socket.

    python benchmarks/tls_read.py [--records 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import ssl
import tempfile
import time
from pathlib import Path

from tls import make_cert


def _pair(
    cert: Path, key: Path
) -> tuple[ssl.SSLObject, ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO]:
    """A client and a server TLS object on memory buffers, handshaken: (client, server,
    client's incoming buffer, server's outgoing buffer)."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="127.0.0.1")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side in (client, server):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    with contextlib.suppress(ssl.SSLWantReadError):
        client.read(1)  # takes the session tickets
    return client, server, c_in, s_out


def per_record_us(cert: Path, key: Path, size: int, records: int) -> float:
    """Microseconds per `read(size)` of one 300-byte record."""
    client, server, c_in, s_out = _pair(cert, key)
    wire = []
    for _ in range(records):
        server.write(b"x" * 300)
        wire.append(s_out.read())
    t0 = time.perf_counter()
    for record in wire:
        c_in.write(record)
        client.read(size)
    return (time.perf_counter() - t0) / records * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=20000)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_cert(Path(tmp))
        print("| bytes asked per read | µs per 300-byte record |")
        print("|---:|---:|")
        for size in (16 * 1024, 64 * 1024, 128 * 1024, 256 * 1024):
            print(f"| {size:,} | {per_record_us(cert, key, size, a.records):.2f} |")


if __name__ == "__main__":
    main()
