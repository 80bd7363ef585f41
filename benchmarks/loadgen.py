"""W3's load generator: K concurrent HTTP clients on loopback for a fixed time, in a process of its own.

    python -m benchmarks.loadgen --base http://127.0.0.1:8000 --api ours --scenario approve --clients 16 --duration 10

Scenarios: ``start`` (each client loops: POST start a W1 workflow) and ``approve`` (each client
loops: POST start an approval workflow, whose response names its open task, then POST complete
that task). Requests finishing during the ``--warmup`` seconds are not counted. Prints one result
line (requests/s over the measured window, p50/p99 latency per request kind, errors).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

import httpx

RESULT_PREFIX = "BENCH-RESULT "
HEADERS = {"X-User": "bench"}


class Recorder:
    """Latencies of the requests that finished inside the measured window."""

    def __init__(self, opens: float, closes: float) -> None:
        self.opens, self.closes = opens, closes
        self.latencies: dict[str, list[float]] = {}
        self.errors = 0
        self.first_error = ""

    def record(self, kind: str, began: float, response: httpx.Response) -> None:
        ended = time.perf_counter()
        if not self.opens <= ended <= self.closes:
            return
        if response.is_success:
            self.latencies.setdefault(kind, []).append(ended - began)
        else:
            self.errors += 1
            self.first_error = self.first_error or f"{kind}: {response.status_code} {response.text[:200]}"


async def start_once(client: httpx.AsyncClient, api: str, workflow: str, recorder: Recorder) -> httpx.Response:
    began = time.perf_counter()
    if api == "ours":
        response = await client.post("/workflows/instances", json={"workflow": workflow}, headers=HEADERS)
    else:
        response = await client.post("/workflows/instances/", json={"definition_name": workflow, "input_data": {}})
    recorder.record("start", began, response)
    return response


async def client_loop(client: httpx.AsyncClient, args: argparse.Namespace, recorder: Recorder) -> None:
    while time.perf_counter() < recorder.closes:
        try:
            await one_round(client, args, recorder)
        except httpx.TransportError as exc:  # counted like an error answer; the client reconnects
            recorder.errors += 1
            recorder.first_error = recorder.first_error or f"{type(exc).__name__}: {exc}"


async def one_round(client: httpx.AsyncClient, args: argparse.Namespace, recorder: Recorder) -> None:
    if args.scenario == "start":
        await start_once(client, args.api, "w1", recorder)
        return
    started = await start_once(client, args.api, "w3", recorder)
    if not started.is_success:
        return
    task_id = started.json()["open_tasks"][0]["id"]
    began = time.perf_counter()
    completed = await client.post(f"/workflows/tasks/{task_id}/complete", json={}, headers=HEADERS)
    recorder.record("complete", began, completed)


def percentile(values: list[float], fraction: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--api", choices=["ours", "lsw033"], required=True)
    parser.add_argument("--scenario", choices=["start", "approve"], required=True)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    now = time.perf_counter()
    recorder = Recorder(now + args.warmup, now + args.warmup + args.duration)
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=args.base, limits=limits, timeout=30) as client:
        await asyncio.gather(*(client_loop(client, args, recorder) for _ in range(args.clients)))
    requests = sum(len(values) for values in recorder.latencies.values())
    result: dict[str, Any] = {
        "throughput": requests / args.duration,
        "requests": requests,
        "errors": recorder.errors,
        "first_error": recorder.first_error,
        "latency_ms": {
            kind: {"p50": percentile(values, 0.50) * 1000, "p99": percentile(values, 0.99) * 1000}
            for kind, values in recorder.latencies.items()
        },
    }
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
