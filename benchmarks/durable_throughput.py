"""Durable throughput: the same workloads on in-memory, SQLite (file, WAL) and PostgreSQL persistence.

Usage: python -m benchmarks.durable_throughput [--n 2000] [--runs 3] [--concurrency 256]

Prints, per backend and workload, the median of ``--runs`` runs and the ratio against the
in-memory engine measured in the same process run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.workloads import approval_workflow, three_step_workflow
from litestar_workflows import (
    InMemoryPersistence,
    LocalExecutionEngine,
    WorkflowPersistence,
    WorkflowRegistry,
    WorkflowStatus,
)

PG_ADMIN_DSN = os.environ.get("LSW_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")

Factory = Callable[[], contextlib.AbstractAsyncContextManager[WorkflowPersistence]]


@contextlib.asynccontextmanager
async def memory_backend() -> AsyncIterator[WorkflowPersistence]:
    yield InMemoryPersistence()


@contextlib.asynccontextmanager
async def sqlite_backend(synchronous: str = "FULL") -> AsyncIterator[WorkflowPersistence]:
    from litestar_workflows.db import SQLAlchemyPersistence

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        persistence = SQLAlchemyPersistence(url=url, create_all=True, sqlite_synchronous=synchronous)
        try:
            yield persistence
        finally:
            await persistence.close()


def sqlite_normal_backend() -> contextlib.AbstractAsyncContextManager[WorkflowPersistence]:
    return sqlite_backend("NORMAL")


@contextlib.asynccontextmanager
async def postgres_backend() -> AsyncIterator[WorkflowPersistence]:
    import asyncpg

    from litestar_workflows.db import SQLAlchemyPersistence

    name = f"lsw_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    persistence = SQLAlchemyPersistence(url=f"{base}/{name}", create_all=True)
    try:
        yield persistence
    finally:
        await persistence.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def postgres_reachable() -> bool:
    try:
        import asyncpg

        connection = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_DSN), 3)
    except (TimeoutError, OSError, ImportError, Exception):
        return False
    await connection.close()
    return True


async def bounded(items: int, concurrency: int, work: Callable[[int], Awaitable[Any]]) -> list[Any]:
    """Run ``work(i)`` for every i with at most ``concurrency`` in flight (many instances, like a server)."""
    results: list[Any] = [None] * items
    next_item = 0

    async def worker() -> None:
        nonlocal next_item
        while next_item < items:
            index = next_item
            next_item += 1
            results[index] = await work(index)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, items))))
    return results


async def w1_throughput(persistence: WorkflowPersistence, n: int, concurrency: int) -> float:
    registry = WorkflowRegistry()
    registry.register_definition(three_step_workflow())
    engine = LocalExecutionEngine(registry, persistence)

    async def run(_: int) -> None:
        started = await engine.start_workflow("w1")
        done = await engine.wait_for(started.id, timeout=120)
        assert done.status is WorkflowStatus.COMPLETED, done

    began = time.perf_counter()
    await bounded(n, concurrency, run)
    elapsed = time.perf_counter() - began
    await engine.stop(0)
    return n / elapsed


async def w1_sequential_latency_ms(persistence: WorkflowPersistence, n: int) -> float:
    registry = WorkflowRegistry()
    registry.register_definition(three_step_workflow())
    engine = LocalExecutionEngine(registry, persistence)
    timings = []
    for _ in range(n):
        began = time.perf_counter()
        started = await engine.start_workflow("w1")
        await engine.wait_for(started.id, timeout=60)
        timings.append(time.perf_counter() - began)
    await engine.stop(0)
    return statistics.median(timings) * 1000


async def w2_throughput(persistence: WorkflowPersistence, n: int, concurrency: int) -> float:
    registry = WorkflowRegistry()
    registry.register_definition(approval_workflow())
    engine = LocalExecutionEngine(registry, persistence)

    async def start(_: int) -> Any:
        started = await engine.start_workflow("w2")
        waiting = await engine.wait_for(started.id, timeout=120)
        assert waiting.status is WorkflowStatus.WAITING, waiting
        return started.id

    async def approve(index: int) -> None:
        instance_id = ids[index]
        await engine.complete_human_task(instance_id, "approve", "bench", {})
        done = await engine.wait_for(instance_id, timeout=120)
        assert done.status is WorkflowStatus.COMPLETED, done

    began = time.perf_counter()
    ids = await bounded(n, concurrency, start)
    await bounded(n, concurrency, approve)
    elapsed = time.perf_counter() - began
    await engine.stop(0)
    return n / elapsed


async def measure(factory: Factory, n: int, runs: int, concurrency: int) -> dict[str, float]:
    figures: dict[str, list[float]] = {"w1 wf/s": [], "w2 wf/s": [], "w1 sequential ms": []}
    for _ in range(runs):
        async with factory() as persistence:
            figures["w1 wf/s"].append(await w1_throughput(persistence, n, concurrency))
        async with factory() as persistence:
            figures["w2 wf/s"].append(await w2_throughput(persistence, n, concurrency))
        async with factory() as persistence:
            figures["w1 sequential ms"].append(await w1_sequential_latency_ms(persistence, min(n, 300)))
    return {name: statistics.median(values) for name, values in figures.items()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()
    backends: list[tuple[str, Factory]] = [
        ("memory", memory_backend),
        ("sqlite-wal", sqlite_backend),
        ("sqlite-normal", sqlite_normal_backend),
    ]
    if await postgres_reachable():
        backends.append(("postgresql", postgres_backend))
    else:
        print("PostgreSQL unreachable: skipped")
    results = {name: await measure(factory, args.n, args.runs, args.concurrency) for name, factory in backends}
    baseline = results["memory"]
    print(f"n={args.n} runs={args.runs} concurrency={args.concurrency} (median of runs)")
    print(f"{'backend':<14} {'w1 wf/s':>10} {'ratio':>7} {'w2 wf/s':>10} {'ratio':>7} {'w1 seq ms':>10}")
    for name, figures in results.items():
        print(
            f"{name:<14} {figures['w1 wf/s']:>10.0f} {figures['w1 wf/s'] / baseline['w1 wf/s']:>7.2f}"
            f" {figures['w2 wf/s']:>10.0f} {figures['w2 wf/s'] / baseline['w2 wf/s']:>7.2f}"
            f" {figures['w1 sequential ms']:>10.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
