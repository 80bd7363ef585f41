"""DBOS Transact (``dbos`` from PyPI) running the workloads, on a SQLite or PostgreSQL system database.

Run with the peer's own interpreter (``benchmarks/.peers/dbos``). Workflows and steps are async
(``@DBOS.workflow`` / ``@DBOS.step`` on coroutines), as ours are. The approval is DBOS's own
mechanism for outside input: the workflow waits in ``DBOS.recv_async`` and the approver calls
``DBOS.send_async``. Every step's output is checkpointed by DBOS before the next one runs, like ours.
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path
from typing import Any

import driverkit
from dbos import DBOS

BACKENDS = ("sqlite", "postgres")


class State:
    """What the workflows share with the driver in this process."""

    log: driverkit.SideEffectLog | None = None
    prepared = 0
    """W2 instances that recorded their first step and are about to wait for their approval."""
    target = 0
    all_prepared = asyncio.Event()


def set_one(name: str) -> int:
    """The work of every step: one small value (W4 also logs the run outside)."""
    if State.log is not None:
        State.log.record(DBOS.workflow_id or "", name)
    return 1


@DBOS.step()
async def step_a() -> int:
    return set_one("a")


@DBOS.step()
async def step_b() -> int:
    return set_one("b")


@DBOS.step()
async def step_c() -> int:
    return set_one("c")


@DBOS.step()
async def prepare() -> int:
    return set_one("prepare")


@DBOS.step()
async def finish() -> int:
    return set_one("finish")


@DBOS.workflow()
async def w1_workflow() -> dict[str, int]:
    return {"a": await step_a(), "b": await step_b(), "c": await step_c()}


@DBOS.workflow()
async def w2_workflow() -> dict[str, Any]:
    values: dict[str, Any] = {"prepare": await prepare()}
    State.prepared += 1
    if State.prepared >= State.target:
        State.all_prepared.set()
    values["approved"] = await DBOS.recv_async("approve", timeout_seconds=3600)
    values["finish"] = await finish()
    return values


def launch(backend: str, workdir: Path, database_url: str) -> None:
    url = f"sqlite:///{workdir / 'dbos.sqlite3'}" if backend == "sqlite" else database_url
    DBOS(config={"name": "lsw-bench", "system_database_url": url, "log_level": "WARNING"})
    DBOS.launch()


async def w1(n: int, concurrency: int) -> dict[str, Any]:
    async def run(_: int) -> None:
        handle = await DBOS.start_workflow_async(w1_workflow)
        assert await handle.get_result() == {"a": 1, "b": 1, "c": 1}

    with driverkit.Stopwatch() as watch:
        await driverkit.bounded(n, concurrency, run)
    return {"throughput": n / watch.seconds, "seconds": watch.seconds}


async def latency(n: int, concurrency: int) -> dict[str, Any]:
    """W1 one workflow at a time (``concurrency`` is ignored)."""
    return await driverkit.one_at_a_time(w1, n)


async def park(n: int, concurrency: int) -> list[Any]:
    """Start ``n`` W2 workflows and wait until each has recorded its first step."""
    State.prepared, State.target = 0, n
    State.all_prepared.clear()

    async def start(_: int) -> Any:
        return await DBOS.start_workflow_async(w2_workflow)

    handles = await driverkit.bounded(n, concurrency, start)
    await asyncio.wait_for(State.all_prepared.wait(), 3600)
    return handles


async def w2(n: int, concurrency: int) -> dict[str, Any]:
    async def approve(index: int) -> None:
        await DBOS.send_async(handles[index].get_workflow_id(), True, topic="approve")
        result = await handles[index].get_result()
        assert result["finish"] == 1, result

    with driverkit.Stopwatch() as watch:
        handles = await park(n, concurrency)
        await driverkit.bounded(n, concurrency, approve)
    return {"throughput": n / watch.seconds, "seconds": watch.seconds}


async def memory(n: int, concurrency: int) -> dict[str, Any]:
    await park(1, 1)
    await asyncio.sleep(0.5)
    baseline = driverkit.rss_bytes()
    await park(n, concurrency)
    await asyncio.sleep(0.5)  # the last ones reach recv
    return driverkit.memory_result(baseline, driverkit.rss_bytes(), n)


async def w4_run(args: Any) -> dict[str, Any]:
    State.log = driverkit.side_effect_log(args.workdir)
    acknowledged = driverkit.acknowledged_log(args.workdir)

    async def run(_: int) -> None:
        handle = await DBOS.start_workflow_async(w1_workflow)
        acknowledged.record(handle.get_workflow_id())
        await handle.get_result()

    driverkit.ready()
    await driverkit.bounded(args.n, args.concurrency, run)
    return {"finished": True}


async def w4_check(args: Any) -> dict[str, Any]:
    """``DBOS.launch`` (in ``main``) already resumed the pending workflows; wait for them and count."""
    ids = driverkit.acknowledged(args.workdir)
    lost = unfinished = recorded_twice = 0

    async def check(index: int) -> None:
        nonlocal lost, unfinished, recorded_twice
        status = await DBOS.get_workflow_status_async(ids[index])
        if status is None:
            lost += 1
            return
        handle = await DBOS.retrieve_workflow_async(ids[index])
        try:
            await asyncio.wait_for(handle.get_result(), 300)
        except TimeoutError:
            unfinished += 1
        steps = await DBOS.list_workflow_steps_async(ids[index])
        names = collections.Counter(step["function_name"] for step in steps)
        recorded_twice += sum(1 for count in names.values() if count > 1)

    with driverkit.Stopwatch() as watch:
        await driverkit.bounded(len(ids), 64, check)
    return {
        "acknowledged": len(ids),
        "lost": lost,
        "unfinished": unfinished,
        "recorded_twice": recorded_twice,
        "recovery_seconds": watch.seconds,
    }


async def main() -> None:
    args = driverkit.arguments(BACKENDS)
    if args.workload == "w4-check":
        State.log = driverkit.side_effect_log(args.workdir)  # recovered steps log their runs too
    launch(args.backend, args.workdir, args.database_url)
    if args.workload == "w4-run":
        result = await w4_run(args)
    elif args.workload == "w4-check":
        result = await w4_check(args)
    else:
        workload = {"w1": w1, "latency": latency, "w2": w2, "memory": memory}[args.workload]
        result = await workload(args.n, args.concurrency)
    DBOS.destroy(workflow_completion_timeout_sec=0)
    driverkit.emit(result)


if __name__ == "__main__":
    asyncio.run(main())
