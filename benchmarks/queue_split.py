"""Steps on SAQ workers vs one process: throughput, and start latency over HTTP while steps are slow.

    .venv/bin/python -m benchmarks.queue_split [--count 300] [--starts 200]

Each setup gets a fresh PostgreSQL database for the workflow state, served by ``benchmarks.queue_app``
(three machine steps of 50 ms awaited I/O each):

- ``single``: one uvicorn process that serves the API and runs the steps (no queue: today's default);
- ``redis`` / ``postgres``: one web process (``litestar run``, runs no steps) and two workers
  (``litestar workers run``) on a Redis or PostgreSQL queue.

Throughput: ``count`` starts over HTTP (16 at a time), until every instance completed. Latency: while
``count`` more instances run, ``starts`` starts one after another, each timed from request to response.
Everything shares this machine's two cores, so only the comparison within one run means anything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("LSW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("LSW_BENCH_REDIS", "redis://127.0.0.1:6379/8")
SETUPS = ("single", "redis", "postgres")


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def _database() -> Iterator[str]:
    name = f"lsw_bench_queue_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def _processes(setup: str, libpq_url: str, port: int, folder: Path) -> Iterator[None]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LSW_BENCH_DB": libpq_url.replace("postgresql://", "postgresql+asyncpg://"),
    }
    if setup != "single":
        environment["LSW_BENCH_QUEUE"] = REDIS if setup == "redis" else libpq_url
    base = [sys.executable, "-m", "litestar", "--app", "benchmarks.queue_app:app"]
    commands = [[*base, "run", "--port", str(port)]]
    commands += [[*base, "workers", "run"]] * (0 if setup == "single" else 2)
    processes = []
    for number, command in enumerate(commands):
        with (folder / f"{setup}-{number}.log").open("wb") as output:
            processes.append(
                subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
            )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/workflows/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{setup}: the web process did not come up")
            time.sleep(0.2)
        time.sleep(2 if setup != "single" else 0.5)  # the workers' start-up
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


async def _start(client: httpx.AsyncClient) -> float:
    began = time.perf_counter()
    response = await client.post("/instances", json={"workflow": "slow", "data": {}})
    response.raise_for_status()
    return time.perf_counter() - began


async def _completed(client: httpx.AsyncClient) -> int:
    response = await client.get("/instances", params={"status": "completed", "limit": 1})
    return int(response.json()["total"])


async def _measure(port: int, count: int, starts: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/workflows", timeout=120) as client:
        gate = asyncio.Semaphore(16)

        async def start() -> float:
            async with gate:
                return await _start(client)

        began = time.perf_counter()
        await asyncio.gather(*(start() for _ in range(count)))
        while await _completed(client) < count:
            await asyncio.sleep(0.05)
        throughput = count / (time.perf_counter() - began)

        background = asyncio.gather(*(start() for _ in range(count)))  # steps keep the workers busy
        latencies = [await _start(client) for _ in range(starts)]
        await background
        while await _completed(client) < 2 * count + starts:
            await asyncio.sleep(0.05)
    quantiles = statistics.quantiles(latencies, n=100)
    return {"workflows_per_s": throughput, "start_p50_ms": quantiles[49] * 1e3, "start_p99_ms": quantiles[98] * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--starts", type=int, default=200)
    parser.add_argument("--setups", default=",".join(SETUPS))
    arguments = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as logs:
        for setup in arguments.setups.split(","):
            with _database() as url, _processes(setup, url, (port := _port()), Path(logs)):
                results[setup] = asyncio.run(_measure(port, arguments.count, arguments.starts))
            print(setup, json.dumps({key: round(value, 1) for key, value in results[setup].items()}), flush=True)
    (ROOT / "benchmarks" / "results" / "queue_split.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
