"""W3's load generator: K keep-alive HTTP/1.1 connections on loopback for a fixed time, in a process of its own.

    python -m benchmarks.loadgen --base http://127.0.0.1:8000 --api ours --scenario approve --clients 16 --duration 10

Each client owns one connection and sends its next request when the answer to the last one is in
(closed loop). Scenarios:

- ``start``: POST start a W1 workflow (three machine steps);
- ``start-human``: POST start of ``w3``, whose first step is a human task (one durable commit);
- ``approve``: POST start ``w3``, then POST complete the task its answer names;
- ``bare``: POST ``/bare``, a Litestar handler in the same app that decodes the body and returns
  a small JSON object (the ceiling);
- ``bare-sqlite``: POST ``/bare-sqlite``, the same plus one row inserted per request (group commit).

Only answers arriving inside the measured window (after ``--warmup`` seconds, for ``--duration``
seconds) count. Prints one result line: requests/s, latency p50/p90/p99/max per request kind,
errors, and the CPU the load generator itself used in the window (a fraction of one core: near
1.0 means the figures measure the client) and, with ``--server-pid``, the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.httpclient import HttpConnection, ProtocolError, Response, build_request

__all__ = ["SCENARIOS", "LoadOptions", "Recorder", "main", "percentile", "run"]

RESULT_PREFIX = "BENCH-RESULT "
Result = dict[str, Any]
"""What :func:`run` returns and the result line holds (see the module's docstring)."""
SCENARIOS = ("start", "start-human", "approve", "bare", "bare-sqlite")
STOP_GRACE_SECONDS = 30.0
"""How long the clients get, after the window, to receive the answers to requests in flight."""
TRANSPORT_ERROR_PAUSE = 0.01
"""Seconds a client waits after a refused or broken connection, so a dead server is not hammered."""


@dataclass(frozen=True)
class LoadOptions:
    """What to send where, with how many clients, for how long."""

    base: str
    api: str = "ours"
    scenario: str = "start"
    clients: int = 16
    duration: float = 10.0
    warmup: float = 1.0
    server_pid: int | None = None


@dataclass
class Recorder:
    """Every answer of the run: when it arrived, how long it took, and whether it was a success."""

    ended: dict[str, list[float]] = field(default_factory=dict)
    latency: dict[str, list[float]] = field(default_factory=dict)
    failures: list[tuple[float, str]] = field(default_factory=list)
    sent: int = 0

    def success(self, kind: str, began: float, ended: float) -> None:
        self.ended.setdefault(kind, []).append(ended)
        self.latency.setdefault(kind, []).append(ended - began)

    def failure(self, kind: str, message: str) -> None:
        self.failures.append((time.perf_counter(), f"{kind}: {message}"))


class _Requests:
    """The requests of one scenario, as bytes built once (only a completion's path varies)."""

    def __init__(self, options: LoadOptions, host: str) -> None:
        self.host = host
        self.headers = {"X-User": "bench"} if options.api == "ours" else {}
        workflow = "w1" if options.scenario in {"start", "bare", "bare-sqlite"} else "w3"
        if options.api == "ours":
            body = json.dumps({"workflow": workflow}).encode()
            path = "/workflows/instances"
        else:  # litestar-workflows 0.3.3's REST API
            body = json.dumps({"definition_name": workflow, "input_data": {}}).encode()
            path = "/workflows/instances/"
        if options.scenario in {"bare", "bare-sqlite"}:
            path = f"/{options.scenario}"
        self.first_kind = options.scenario if options.scenario.startswith("bare") else "start"
        self.first = build_request("POST", path, host, body, self.headers)

    def complete(self, task_id: str) -> bytes:
        return build_request("POST", f"/workflows/tasks/{task_id}/complete", self.host, b"{}", self.headers)


async def _send(connection: HttpConnection, raw: bytes, kind: str, recorder: Recorder) -> Response | None:
    """One request; its answer is recorded (a success, or a failure with its reason)."""
    recorder.sent += 1
    began = time.perf_counter()
    try:
        response = await connection.request(raw)
    except (OSError, ProtocolError) as exc:
        recorder.failure(kind, f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(TRANSPORT_ERROR_PAUSE)
        return None
    if response.ok:
        recorder.success(kind, began, time.perf_counter())
        return response
    recorder.failure(kind, f"{response.status} {response.body[:200].decode('utf-8', 'replace')}")
    return None


async def _one_round(connection: HttpConnection, requests: _Requests, scenario: str, recorder: Recorder) -> None:
    started = await _send(connection, requests.first, requests.first_kind, recorder)
    if scenario != "approve" or started is None:
        return
    try:
        task_id = str(json.loads(started.body)["open_tasks"][0]["id"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        recorder.failure("start", f"no open task in the answer ({exc!r}): {started.body[:200]!r}")
        return
    await _send(connection, requests.complete(task_id), "complete", recorder)


async def _client(
    connection: HttpConnection, requests: _Requests, options: LoadOptions, stop_at: float, recorder: Recorder
) -> None:
    try:
        while time.perf_counter() < stop_at:
            await _one_round(connection, requests, options.scenario, recorder)
    finally:
        connection.close()


def server_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds the process ``pid`` has used (Linux ``/proc``); None elsewhere."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # Fields 14 and 15 of proc(5), counted after the command name: utime and stime, in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class _Sample:
    wall: float
    client_cpu: float
    server_cpu: float | None


async def _sample_at(moment: float, server_pid: int | None) -> _Sample:
    await asyncio.sleep(max(0.0, moment - time.perf_counter()))
    return _Sample(time.perf_counter(), time.process_time(), server_cpu_seconds(server_pid))


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (sorted by the caller); 0 for none."""
    if not values:
        return 0.0
    return values[max(0, math.ceil(fraction * len(values)) - 1)]


def _summary(recorder: Recorder, opened: _Sample, closed: _Sample, connections: int) -> dict[str, Any]:
    window = closed.wall - opened.wall
    latency_ms: dict[str, dict[str, float]] = {}
    rates: dict[str, float] = {}
    for kind, ends in recorder.ended.items():
        inside = sorted(
            latency * 1000
            for latency, ended in zip(recorder.latency[kind], ends, strict=True)
            if opened.wall <= ended <= closed.wall
        )
        rates[kind] = len(inside) / window
        latency_ms[kind] = {f"p{round(q * 100)}": percentile(inside, q) for q in (0.5, 0.9, 0.99)}
        latency_ms[kind] |= {"max": inside[-1] if inside else 0.0, "count": len(inside)}
    errors = [message for ended, message in recorder.failures if opened.wall <= ended <= closed.wall]
    server = None
    if opened.server_cpu is not None and closed.server_cpu is not None:
        server = (closed.server_cpu - opened.server_cpu) / window
    return {
        "throughput": sum(rates.values()),
        "requests": sum(int(kind["count"]) for kind in latency_ms.values()),
        "rates": rates,
        "errors": len(errors),
        "first_error": recorder.failures[0][1] if recorder.failures else "",
        "latency_ms": latency_ms,
        "client_cpu": (closed.client_cpu - opened.client_cpu) / window,
        "server_cpu": server,
        "window_seconds": window,
        "totals": {
            "sent": recorder.sent,
            "answered_ok": sum(len(ends) for ends in recorder.ended.values()),
            "by_kind": {kind: len(ends) for kind, ends in recorder.ended.items()},
            "failed": len(recorder.failures),
            "connections": connections,
        },
    }


async def run(options: LoadOptions) -> dict[str, Any]:
    """Drive the server at ``options.base`` and summarise what was measured inside the window."""
    url = urlsplit(options.base)
    if url.scheme != "http" or url.hostname is None:
        raise ValueError(f"--base must be an http:// URL with a host, not {options.base!r}")
    port = url.port or 80
    requests = _Requests(options, f"{url.hostname}:{port}")
    recorder = Recorder()
    began = time.perf_counter()
    opens, closes = began + options.warmup, began + options.warmup + options.duration
    connections = [HttpConnection(url.hostname, port) for _ in range(options.clients)]
    clients = [asyncio.ensure_future(_client(each, requests, options, closes, recorder)) for each in connections]
    opened = await _sample_at(opens, options.server_pid)
    closed = await _sample_at(closes, options.server_pid)
    _, stuck = await asyncio.wait(clients, timeout=STOP_GRACE_SECONDS)
    for client in stuck:  # a request the server never answered counts as a failure
        client.cancel()
        recorder.failure("any", f"no answer within {STOP_GRACE_SECONDS:.0f} s after the window")
    await asyncio.gather(*stuck, return_exceptions=True)
    for client in clients:
        error = None if client in stuck else client.exception()
        if error is not None:  # a bug of the load generator: fail loudly
            raise error
    return _summary(recorder, opened, closed, sum(each.opened for each in connections))


def _event_loop_runner(choice: str) -> tuple[str, Callable[[Coroutine[Any, Any, Result]], Result]]:
    """uvloop when asked or, for ``auto``, when installed: the lighter the client, the more it can send."""
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise
        else:
            return "uvloop", uvloop.run
    return "asyncio", asyncio.run


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--api", choices=["ours", "lsw033"], default="ours")
    parser.add_argument("--scenario", choices=SCENARIOS, required=True)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--server-pid", type=int, help="the server process, to report its CPU use")
    parser.add_argument("--client-loop", choices=["auto", "uvloop", "asyncio"], default="auto")
    args = parser.parse_args()
    options = LoadOptions(args.base, args.api, args.scenario, args.clients, args.duration, args.warmup, args.server_pid)
    loop_name, runner = _event_loop_runner(args.client_loop)
    result = runner(run(options))
    result["client_loop"] = loop_name
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
