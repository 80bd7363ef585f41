"""litestar-workflows 0.3.3 from PyPI running the workloads (its in-memory ``LocalExecutionEngine``).

Run with the peer's own interpreter (``benchmarks/.peers/lsw033``): its import name is ours too.
Its in-memory engine is measured (its ``PersistentExecutionEngine`` is not part of the issue's
peers), and it has no ``wait_for``: the background task of an instance ends when the instance
completes or reaches a human step, so awaiting that task is the same wait.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import driverkit

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    Edge,
    LocalExecutionEngine,
    WorkflowDefinition,
    WorkflowRegistry,
)

BACKENDS = ("memory",)


class SetOne(BaseMachineStep):
    """Sets one small value; W4 also logs the run outside."""

    log: driverkit.SideEffectLog | None = None

    async def execute(self, context: Any) -> Any:
        if SetOne.log is not None:
            SetOne.log.record(str(context.instance_id), self.name)
        context.set(self.name, 1)
        return None


class W1:
    """a -> b -> c."""

    __definition = WorkflowDefinition(
        name="w1",
        version="1",
        description="three machine steps",
        steps={"a": SetOne("a"), "b": SetOne("b"), "c": SetOne("c")},
        edges=[Edge("a", "b"), Edge("b", "c")],
        initial_step="a",
        terminal_steps={"c"},
    )

    @classmethod
    def get_definition(cls) -> WorkflowDefinition:
        return cls.__definition


class W2:
    """prepare -> approve (a person) -> finish."""

    __definition = WorkflowDefinition(
        name="w2",
        version="1",
        description="one approval between two steps",
        steps={
            "prepare": SetOne("prepare"),
            "approve": BaseHumanStep("approve", "Approve"),
            "finish": SetOne("finish"),
        },
        edges=[Edge("prepare", "approve"), Edge("approve", "finish")],
        initial_step="prepare",
        terminal_steps={"finish"},
    )

    @classmethod
    def get_definition(cls) -> WorkflowDefinition:
        return cls.__definition


def new_engine() -> LocalExecutionEngine:
    registry = WorkflowRegistry()
    registry.register(W1)
    registry.register(W2)
    return LocalExecutionEngine(registry)


async def settle(engine: LocalExecutionEngine, instance_id: Any) -> str:
    """Wait until the instance completed or waits for a person; its status.

    0.3.3 leaves the finished task of an instance parked at a human step in ``_running``, and its
    ``complete_human_task`` resumes an instance only when it has no entry there: an approved
    instance would never finish. Dropping the finished task (what 0.3.3 does when an instance
    completes) works around that bug so W2 can be measured at all.
    """
    task = engine._running.get(instance_id)
    if task is not None:
        await task
        if engine._running.get(instance_id) is task:
            del engine._running[instance_id]
    return str((await engine.get_instance(instance_id)).status.value)


async def w1(engine: LocalExecutionEngine, n: int, concurrency: int) -> dict[str, Any]:
    async def run(_: int) -> None:
        instance = await engine.start_workflow(W1, {})
        status = await settle(engine, instance.id)
        assert status == "completed", status

    with driverkit.Stopwatch() as watch:
        await driverkit.bounded(n, concurrency, run)
    return {"throughput": n / watch.seconds, "seconds": watch.seconds}


async def latency(engine: LocalExecutionEngine, n: int, concurrency: int) -> dict[str, Any]:
    """W1 one workflow at a time (``concurrency`` is ignored)."""
    return await driverkit.one_at_a_time(functools.partial(w1, engine), n)


async def park(engine: LocalExecutionEngine, n: int, concurrency: int) -> list[Any]:
    async def start(_: int) -> Any:
        instance = await engine.start_workflow(W2, {})
        status = await settle(engine, instance.id)
        assert status == "waiting", status
        return instance.id

    return await driverkit.bounded(n, concurrency, start)


async def w2(engine: LocalExecutionEngine, n: int, concurrency: int) -> dict[str, Any]:
    async def approve(index: int) -> None:
        await engine.complete_human_task(ids[index], "approve", "bench", {})
        status = await settle(engine, ids[index])
        assert status == "completed", status

    with driverkit.Stopwatch() as watch:
        ids = await park(engine, n, concurrency)
        await driverkit.bounded(n, concurrency, approve)
    return {"throughput": n / watch.seconds, "seconds": watch.seconds}


async def memory(engine: LocalExecutionEngine, n: int, concurrency: int) -> dict[str, Any]:
    await park(engine, 1, 1)
    baseline = driverkit.rss_bytes()
    await park(engine, n, concurrency)
    return driverkit.memory_result(baseline, driverkit.rss_bytes(), n)


async def w4_run(engine: LocalExecutionEngine, args: Any) -> dict[str, Any]:
    SetOne.log = driverkit.side_effect_log(args.workdir)
    acknowledged = driverkit.acknowledged_log(args.workdir)

    async def run(_: int) -> None:
        instance = await engine.start_workflow(W1, {})
        acknowledged.record(str(instance.id))
        await settle(engine, instance.id)

    driverkit.ready()
    await driverkit.bounded(args.n, args.concurrency, run)
    return {"finished": True}


async def w4_check(engine: LocalExecutionEngine, args: Any) -> dict[str, Any]:
    """A new process knows no instance: every acknowledged one is lost."""
    from uuid import UUID

    ids = driverkit.acknowledged(args.workdir)
    lost = 0
    for raw in ids:
        try:
            await engine.get_instance(UUID(raw))
        except KeyError:
            lost += 1
    return {"acknowledged": len(ids), "lost": lost, "unfinished": 0, "recorded_twice": 0, "recovery_seconds": 0.0}


async def main() -> None:
    args = driverkit.arguments(BACKENDS)
    engine = new_engine()
    if args.workload == "w4-run":
        result = await w4_run(engine, args)
    elif args.workload == "w4-check":
        result = await w4_check(engine, args)
    else:
        workload = {"w1": w1, "latency": latency, "w2": w2, "memory": memory}[args.workload]
        result = await workload(engine, args.n, args.concurrency)
    driverkit.emit(result)


if __name__ == "__main__":
    asyncio.run(main())
