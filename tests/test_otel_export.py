"""`otlp_session` and `--otlp-endpoint`: spans and metrics reach a real OTLP/HTTP receiver.

The receiver is a threaded `http.server` on a loopback port that decodes the protobuf bodies
with the OpenTelemetry proto package, as a collector would.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.http",
    reason="the otel extra is not installed: pip install -e '.[otel]'",
)

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from cli_runner import run_cli
from groqstream import Client
from groqstream.otel import otlp_session
from groqstream.testing import SimulatedServer

MODEL = "openai/gpt-oss-20b"
PLAIN_MODEL = "moonshotai/kimi-k2-instruct"


class Collector:
    """What an OTLP/HTTP collector received: span names, metric names, resources."""

    def __init__(self) -> None:
        self.spans: list[str] = []
        self.metrics: set[str] = set()
        self.services: set[str] = set()
        self.paths: list[str] = []
        self.lock = threading.Lock()

    def take(self, path: str, body: bytes) -> None:
        with self.lock:
            self.paths.append(path)
            if path == "/v1/traces":
                traces = ExportTraceServiceRequest.FromString(body)
                for rs in traces.resource_spans:
                    self.services |= _services(rs.resource.attributes)
                    self.spans += [s.name for ss in rs.scope_spans for s in ss.spans]
            elif path == "/v1/metrics":
                metrics = ExportMetricsServiceRequest.FromString(body)
                for rm in metrics.resource_metrics:
                    self.metrics |= {m.name for sm in rm.scope_metrics for m in sm.metrics}


def _services(attributes: Any) -> set[str]:
    return {a.value.string_value for a in attributes if a.key == "service.name"}


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    got = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            got.take(self.path, body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield got, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_otlp_session_exports_spans_and_metrics(
    collector: tuple[Collector, str], server: SimulatedServer
) -> None:
    got, url = collector
    with otlp_session(url, service_name="svc-under-test"):
        async with Client(base_url=server.base_url) as client:
            async with client.stream(model=MODEL, prompt="hi") as s:
                await s.until_done()
            await client.complete(model=PLAIN_MODEL, prompt="hi")
    # Leaving the block flushed both signals.
    assert sorted(got.spans) == sorted([f"chat {MODEL}", f"chat {PLAIN_MODEL}"])
    assert got.services == {"svc-under-test"}
    assert {
        "gen_ai.client.operation.duration",
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.token.usage",
        "groq.server.completion.duration",
    } <= got.metrics


def test_otlp_session_rejects_a_non_http_endpoint() -> None:
    from groqstream import ConfigError

    with pytest.raises(ConfigError), otlp_session("localhost:4318"):
        pass


def test_bench_otlp_endpoint_sends_the_run(collector: tuple[Collector, str]) -> None:
    got, url = collector
    p = run_cli(
        "bench",
        "--simulate",
        "--sim-ttft",
        "0.005",
        "--sim-tps",
        "5000",
        "--concurrency",
        "2",
        "--requests",
        "6",
        "--output-tokens",
        "8",
        "--otlp-endpoint",
        url,
    )
    assert p.returncode == 0, p.stderr
    assert got.spans.count(f"chat {MODEL}") >= 7  # the warm-up and six requests
    assert got.services == {"groqstream-bench"}
    assert "gen_ai.client.operation.time_to_first_chunk" in got.metrics


async def test_batch_otlp_endpoint_sends_the_run(
    collector: tuple[Collector, str], server: SimulatedServer, tmp_path: Path
) -> None:
    got, url = collector
    src = tmp_path / "in.jsonl"
    lines = [
        {
            "custom_id": f"r{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": PLAIN_MODEL, "messages": [{"role": "user", "content": "hi"}]},
        }
        for i in range(3)
    ]
    src.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    args = ("batch", str(src), str(tmp_path / "out.jsonl"), "--base-url", server.base_url)
    p = await asyncio.to_thread(run_cli, *args, "--otlp-endpoint", url)
    assert p.returncode == 0, p.stderr
    assert got.spans == [f"chat {PLAIN_MODEL}"] * 3
    assert got.services == {"groqstream-batch"}


def test_a_bad_otlp_endpoint_is_a_clear_cli_error() -> None:
    p = run_cli("bench", "--simulate", "--requests", "1", "--otlp-endpoint", "localhost:4318")
    assert p.returncode == 1
    assert "ConfigError" in p.stderr and "http(s)://" in p.stderr
