"""W3's load generator: its HTTP framing, and its counts against what a real uvicorn server saw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.httpclient import ProtocolError, Response, ResponseParser
from benchmarks.loadgen import LoadOptions, run
from tests.e2e.test_expense_http import ROOT, Server, free_port

STACKS = [("asyncio", "h11"), ("uvloop", "httptools")]
"""The two server stacks W3 measures (uvloop and httptools come with the ``standard`` extra)."""


def _response(status: str, body: bytes, *headers: str, version: str = "HTTP/1.1") -> bytes:
    head = [f"{version} {status}", "content-type: application/json", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


STREAM = (
    _response("201 Created", b'{"id": 1}', "Content-Length: 9")
    + _response("204 No Content", b"")
    + _response("503 Service Unavailable", b"{}", "content-length: 2", "Connection: close")
    + _response("200 OK", b"abc", "CONTENT-LENGTH:3", version="HTTP/1.0")
)
EXPECTED = [
    Response(201, b'{"id": 1}', close=False),
    Response(204, b"", close=False),
    Response(503, b"{}", close=True),
    Response(200, b"abc", close=True),
]


def test_responses_are_framed_alike_however_the_bytes_arrive() -> None:
    for split in range(len(STREAM) + 1):
        parser = ResponseParser()
        assert parser.feed(STREAM[:split]) + parser.feed(STREAM[split:]) == EXPECTED, split
    parser = ResponseParser()
    assert [response for byte in range(len(STREAM)) for response in parser.feed(STREAM[byte : byte + 1])] == EXPECTED


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_response("200 OK", b"3\r\nabc\r\n0\r\n\r\n", "Transfer-Encoding: chunked"), "transfer-encoding chunked"),
        (_response("200 OK", b"abc"), "a 200 response without Content-Length"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x status line"),
    ],
)
def test_what_it_cannot_frame_is_refused_by_name(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        ResponseParser().feed(raw)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """Starts uvicorn processes (``serve(app, loop, http, env)``), stopped after the test."""
    servers: list[Server] = []

    def start(app: str, loop: str, http: str, env: dict[str, str], app_dir: Path = ROOT) -> Server:
        port = free_port()
        log = tmp_path / f"uvicorn-{len(servers)}.log"
        command = [sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir), app, "--port", str(port)]
        command += ["--loop", loop, "--http", http, "--log-level", "warning"]
        environment = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **env}
        with log.open("ab") as output:
            process = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=output, stderr=subprocess.STDOUT)
        server = Server(process, f"http://127.0.0.1:{port}", log)
        servers.append(server)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # uvicorn listens once the app has started
            assert process.poll() is None, f"uvicorn exited:\n{server.output()}"
            try:
                httpx.get(server.base_url, timeout=2)
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            return server
        raise AssertionError(f"uvicorn did not listen within 60 s:\n{server.output()}")

    yield start
    for server in servers:
        server.stop()


def _counts(server: Server) -> dict[str, int]:
    counted: dict[str, int] = httpx.get(f"{server.base_url}/counts", timeout=10).json()
    return counted


@pytest.mark.slow
@pytest.mark.parametrize(("loop", "http"), STACKS)
async def test_every_answer_is_counted_as_the_server_sent_it(serve: Any, loop: str, http: str) -> None:
    server = serve("tests.benchmarks.counting_app:app", loop, http, {"LSW_TEST_REFUSE_EVERY": "5"})
    options = LoadOptions(server.base_url, scenario="bare", clients=4, duration=0.6, warmup=0.2)
    result = await run(options)
    counts = _counts(server)
    totals = result["totals"]
    assert counts["requests"] == totals["sent"] == totals["answered_ok"] + totals["failed"]
    assert counts["refused"] == totals["failed"] > 0
    assert "503" in result["first_error"]
    assert "refused on purpose" in result["first_error"]
    # four keep-alive connections carried every request
    assert counts["connections"] == totals["connections"] == 4
    # the window's figures are a part of the whole run's, and agree with each other
    assert 0 < result["requests"] <= totals["answered_ok"]
    assert result["errors"] <= totals["failed"]
    assert result["latency_ms"]["bare"]["count"] == result["requests"]
    assert result["throughput"] * result["window_seconds"] == pytest.approx(result["requests"])
    assert result["client_cpu"] > 0
    assert result["server_cpu"] is None  # no --server-pid given


@pytest.mark.slow
@pytest.mark.parametrize(("loop", "http"), STACKS)
async def test_a_connection_the_server_closes_is_opened_again(serve: Any, loop: str, http: str) -> None:
    server = serve("tests.benchmarks.counting_app:app", loop, http, {"LSW_TEST_CLOSE_EVERY": "7"})
    result = await run(LoadOptions(server.base_url, scenario="bare", clients=3, duration=0.5, warmup=0.1))
    counts = _counts(server)
    totals = result["totals"]
    assert totals["failed"] == 0, result["first_error"]
    assert counts["requests"] == totals["answered_ok"] == totals["sent"]
    # each close made its client open a new connection for its next request (unless it was a client's last)
    assert counts["closed"] > 3
    assert counts["closed"] <= totals["connections"] <= 3 + counts["closed"]


@pytest.mark.slow
async def test_approve_completes_the_task_each_start_opened(serve: Any) -> None:
    """Against the benchmark's own app: every start's task is completed, and the server agrees."""
    drivers = ROOT / "benchmarks" / "drivers"
    server = serve("ours_http:app", "asyncio", "h11", {"LSW_BENCH_STORAGE": "memory"}, app_dir=drivers)
    result = await run(LoadOptions(server.base_url, scenario="approve", clients=4, duration=0.5, warmup=0.1))
    totals = result["totals"]
    assert totals["failed"] == 0, result["first_error"]
    assert totals["by_kind"]["start"] == totals["by_kind"]["complete"] > 0
    assert set(result["latency_ms"]) == {"start", "complete"}
    bench = {"X-User": "bench"}
    listed = httpx.get(f"{server.base_url}/workflows/instances", params={"limit": 1}, headers=bench).json()
    assert listed["total"] == totals["by_kind"]["start"]
    waiting = httpx.get(
        f"{server.base_url}/workflows/instances", params={"status": "waiting", "limit": 1}, headers=bench
    ).json()
    assert waiting["total"] == 0, json.dumps(waiting)
