"""A throwaway self-signed certificate for the HTTPS scenarios, and how clients trust it.

The benchmark server serves TLS with it; every client process gets `SSL_CERT_FILE` pointing
at it, which `ssl.create_default_context()` (aiohttp's, groqstream's, httpx's) honours — so
each client verifies the certificate exactly as it would verify Groq's, no `verify=False`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def make_cert(folder: Path) -> tuple[Path, Path]:
    """Write a one-day ECDSA P-256 certificate for 127.0.0.1 and localhost; return (cert, key)."""
    if shutil.which("openssl") is None:
        raise SystemExit("the HTTPS scenarios need the openssl command to make a certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
