"""Our engine (this checkout) running the workloads: in memory, on SQLite (file, WAL) or on PostgreSQL.

    python benchmarks/drivers/ours.py w1 --backend sqlite --n 2000 --workdir /tmp/x

Run by the runner with this checkout's interpreter, one process per run. Prints one result line
(see ``driverkit.emit``).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import os
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import driverkit

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    Edge,
    InMemoryPersistence,
    LocalExecutionEngine,
    StepStatus,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowPersistence,
    WorkflowRegistry,
    WorkflowStatus,
)

BACKENDS = ("memory", "sqlite", "postgres")


class SetOne(BaseMachineStep):
    """Sets one small value (the same work as every peer's step); W4 also logs the run outside."""

    log: driverkit.SideEffectLog | None = None

    async def execute(self, context: WorkflowContext) -> Any:
        if SetOne.log is not None:
            SetOne.log.record(str(context.instance_id), self.name)
        context.set(self.name, 1)
        return None


def three_step_workflow() -> WorkflowDefinition:
    """W1: a -> b -> c, each step sets one small value."""
    steps = {name: SetOne(name) for name in ("a", "b", "c")}
    return WorkflowDefinition(
        "w1", "1", "three machine steps", dict(steps), [Edge("a", "b"), Edge("b", "c")], "a", {"c"}
    )


def approval_workflow() -> WorkflowDefinition:
    """W2: a step, a person approves, a step."""
    return WorkflowDefinition(
        "w2",
        "1",
        "one approval between two steps",
        {"prepare": SetOne("prepare"), "approve": BaseHumanStep("approve", "Approve"), "finish": SetOne("finish")},
        [Edge("prepare", "approve"), Edge("approve", "finish")],
        "prepare",
        {"finish"},
    )


def approve_first_workflow() -> WorkflowDefinition:
    """W3's approval: the task opens with the start commit, so the start response can name it."""
    return WorkflowDefinition(
        "w3",
        "1",
        "an approval, then a step",
        {"approve": BaseHumanStep("approve", "Approve"), "finish": SetOne("finish")},
        [Edge("approve", "finish")],
        "approve",
        {"finish"},
    )


def persistence_for(backend: str, workdir: Path, database_url: str) -> WorkflowPersistence:
    """The store; ``LSW_FLUSH_EVERY_COMMIT=1`` flushes machine progress to disk too (``flush_every_commit``)."""
    if backend == "memory":
        return InMemoryPersistence()
    from litestar_workflows.db import SQLAlchemyPersistence

    every = os.environ.get("LSW_FLUSH_EVERY_COMMIT") == "1"
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'ours.sqlite3'}"
        return SQLAlchemyPersistence(url=url, create_all=True, flush_every_commit=every)
    return SQLAlchemyPersistence(url=database_url, create_all=True, flush_every_commit=every)


def new_engine(persistence: WorkflowPersistence, owner_id: str | None = None) -> LocalExecutionEngine:
    registry = WorkflowRegistry()
    registry.register_definition(three_step_workflow())
    registry.register_definition(approval_workflow())
    return LocalExecutionEngine(registry, persistence, owner_id=owner_id)


async def close(engine: LocalExecutionEngine) -> None:
    await engine.stop(0)
    closer = getattr(engine.persistence, "close", None)
    if closer is not None:
        await closer()


async def w1(engine: LocalExecutionEngine, n: int, concurrency: int) -> dict[str, Any]:
    async def run(_: int) -> None:
        started = await engine.start_workflow("w1")
        done = await engine.wait_for(started.id)
        assert done.status is WorkflowStatus.COMPLETED, done

    with driverkit.Stopwatch() as watch:
        await driverkit.bounded(n, concurrency, run)
    return {"throughput": n / watch.seconds, "seconds": watch.seconds}


async def latency(engine: LocalExecutionEngine, n: int, concurrency: int) -> dict[str, Any]:
    """W1 one workflow at a time (``concurrency`` is ignored)."""
    return await driverkit.one_at_a_time(functools.partial(w1, engine), n)


async def park(engine: LocalExecutionEngine, n: int, concurrency: int) -> list[UUID]:
    """Start ``n`` W2 instances and wait until each waits for its approval."""

    async def start(_: int) -> UUID:
        started = await engine.start_workflow("w2")
        waiting = await engine.wait_for(started.id)
        assert waiting.status is WorkflowStatus.WAITING, waiting
        return started.id

    return await driverkit.bounded(n, concurrency, start)


async def w2(engine: LocalExecutionEngine, n: int, concurrency: int) -> dict[str, Any]:
    async def approve(index: int) -> None:
        await engine.complete_human_task(ids[index], "approve", "bench", {})
        done = await engine.wait_for(ids[index])
        assert done.status is WorkflowStatus.COMPLETED, done

    with driverkit.Stopwatch() as watch:
        ids = await park(engine, n, concurrency)
        await driverkit.bounded(n, concurrency, approve)
    return {"throughput": n / watch.seconds, "seconds": watch.seconds}


async def memory(engine: LocalExecutionEngine, n: int, concurrency: int) -> dict[str, Any]:
    await park(engine, 1, 1)  # warm-up: tables, connections, caches are not per-instance memory
    baseline = driverkit.rss_bytes()
    await park(engine, n, concurrency)
    return driverkit.memory_result(baseline, driverkit.rss_bytes(), n)


async def w4_run(engine: LocalExecutionEngine, args: Any) -> dict[str, Any]:
    SetOne.log = driverkit.side_effect_log(args.workdir)
    acknowledged = driverkit.acknowledged_log(args.workdir)

    async def run(_: int) -> None:
        started = await engine.start_workflow("w1")
        acknowledged.record(str(started.id))
        await engine.wait_for(started.id, timeout=600)

    driverkit.ready()
    await driverkit.bounded(args.n, args.concurrency, run)
    return {"finished": True}  # the runner kills this process before it gets here


async def w4_check(engine: LocalExecutionEngine, args: Any) -> dict[str, Any]:
    """Restart after the kill: recover, let everything finish, then count what was lost or doubled."""
    SetOne.log = driverkit.side_effect_log(args.workdir)
    ids = driverkit.acknowledged(args.workdir)
    with driverkit.Stopwatch() as watch:
        await engine.start()
        deadline = time.monotonic() + 300
        while await engine.persistence.list_instances(status=WorkflowStatus.RUNNING):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    lost = unfinished = recorded_twice = 0
    for raw in ids:
        state = await engine.persistence.load_instance(UUID(raw))
        if state is None:
            lost += 1
            continue
        if state.status is not WorkflowStatus.COMPLETED:
            unfinished += 1
        succeeded = collections.Counter(
            e.step_name for e in state.context.step_history if e.status is StepStatus.SUCCEEDED
        )
        recorded_twice += sum(1 for count in succeeded.values() if count > 1)
    return {
        "acknowledged": len(ids),
        "lost": lost,
        "unfinished": unfinished,
        "recorded_twice": recorded_twice,
        "recovery_seconds": watch.seconds,
    }


async def main() -> None:
    args = driverkit.arguments(BACKENDS)
    # W4 restarts "the same worker" (a fixed owner id, as DBOS's fixed executor id): it takes its
    # instances back at once instead of waiting for the dead process's leases to expire.
    owner = "lsw-bench-worker" if args.workload.startswith("w4") else None
    engine = new_engine(persistence_for(args.backend, args.workdir, args.database_url), owner)
    if args.workload == "w4-run":
        result = await w4_run(engine, args)
    elif args.workload == "w4-check":
        result = await w4_check(engine, args)
    else:
        workload = {"w1": w1, "latency": latency, "w2": w2, "memory": memory}[args.workload]
        result = await workload(engine, args.n, args.concurrency)
    await close(engine)
    driverkit.emit(result)


if __name__ == "__main__":
    asyncio.run(main())
