"""The engine on every persistence: workflows of every shape, a restart, engines racing."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any
from uuid import uuid4

from litestar_workflows import (
    BaseHumanStep,
    InMemoryPersistence,
    InProcessDispatcher,
    LocalExecutionEngine,
    ParallelGateway,
    TaskAlreadyCompletedError,
    TaskStatus,
    TimerStep,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowPersistence,
    WorkflowRegistry,
    WorkflowStatus,
)
from tests.contract.kit import Backend
from tests.helpers import CountStep, FuncStep, SetStep, chain, flow

APPROVAL_FORM = {"type": "object", "properties": {"approved": {"type": "boolean"}}, "required": ["approved"]}


def approval() -> WorkflowDefinition:
    return flow(
        "approval",
        [
            SetStep("submit", "submitted", True),
            BaseHumanStep("approve", "Approve", form_schema=APPROVAL_FORM),
            SetStep("done"),
        ],
        [("submit", "approve"), ("approve", "done")],
        "submit",
        ["done"],
    )


async def test_every_store_is_a_workflow_persistence(store: WorkflowPersistence) -> None:
    assert isinstance(store, WorkflowPersistence)
    registry = WorkflowRegistry()
    registry.register_definition(approval())
    await store.open(registry)
    await store.open(registry)  # again: nothing changes
    await store.ping()
    engine = LocalExecutionEngine(registry, store)
    started = await engine.start_workflow("approval")
    await engine.wait_for(started.id, timeout=10)
    await engine.stop(0)
    known = {state.id for state in store.known_instances()}
    assert known == (
        {started.id} if isinstance(store, InMemoryPersistence) else set()
    )  # a database: nothing without I/O
    await store.close()
    await store.open(registry)  # a closed store opens again, with what it stored
    assert (await store.load_instance(started.id)) is not None
    await store.close()


async def test_sequential_parallel_human_timer_and_cancel(store: WorkflowPersistence) -> None:
    registry = WorkflowRegistry()
    engine = LocalExecutionEngine(registry, store)
    parallel = flow(
        "fan",
        [
            ParallelGateway("fork", ["left", "right"]),
            SetStep("left", "shared", "left", delay=0.02),
            SetStep("right", "shared", "right"),
            SetStep("join"),
        ],
        [("left", "join"), ("right", "join")],
        "fork",
        ["join"],
    )
    fanned = await engine.start_workflow(parallel)
    done = await engine.wait_for(fanned.id, timeout=10)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.data["shared"] == "right"
    assert [e.step_name for e in done.context.step_history].count("join") == 1

    approving = approval()
    waiting = await engine.start_workflow(approving, {"amount": Decimal("12.50")})
    state = await engine.wait_for(waiting.id, timeout=10)
    assert state.status is WorkflowStatus.WAITING
    completed = await engine.complete_human_task(waiting.id, "approve", "bob", {"approved": True, "amount": 1})
    finished = await engine.wait_for(completed.id, timeout=10)
    assert finished.status is WorkflowStatus.COMPLETED
    assert finished.data["amount"] == Decimal("12.50")  # not overwritten by the approver
    assert finished.context.step_history[1].completed_by == "bob"

    timer = chain("timer", [TimerStep("wait", dt.timedelta(milliseconds=50)), SetStep("after")])
    timed = await engine.start_workflow(timer)
    stored = await store.load_instance(timed.id)
    assert stored is not None and stored.tokens[0].not_before is not None
    assert (await engine.wait_for(timed.id, timeout=10)).status is WorkflowStatus.COMPLETED

    cancelled = await engine.start_workflow(approving)
    await engine.wait_for(cancelled.id, timeout=10)
    await engine.cancel_workflow(cancelled.id, "not needed")
    tasks = await store.list_tasks(instance_id=cancelled.id)
    assert [t.status for t in tasks] == [TaskStatus.CANCELED]
    await engine.stop(0)


async def test_what_get_instance_returns_survives_a_restart_unchanged(backend: Backend) -> None:
    registry = WorkflowRegistry()
    registry.register_definition(approval())

    async def broken(context: WorkflowContext) -> None:
        raise RuntimeError("kaput")

    registry.register_definition(chain("broken", [FuncStep("bad", broken)]))
    first = backend.another()
    engine = LocalExecutionEngine(registry, first)
    data: dict[str, Any] = {
        "when": dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC),
        "day": dt.date(2026, 11, 25),
        "ref": uuid4(),
        "amount": Decimal("1999.99"),
        "nested": {"items": [1, "two", None, {"deep": True}]},
    }
    waiting = await engine.start_workflow("approval", data)
    completed = await engine.start_workflow("approval", data)
    failed = await engine.start_workflow("broken", data)
    await engine.wait_for(completed.id, timeout=10)
    await engine.complete_human_task(completed.id, "approve", "ann", {"approved": False})
    for instance in (waiting, completed, failed):
        await engine.wait_for(instance.id, timeout=10)
    before = [await engine.get_instance(i.id) for i in (waiting, completed, failed)]
    await engine.stop(0)
    await first.close()

    second = backend.another()  # in memory: the same store, which outlives its engine
    restarted = LocalExecutionEngine(registry, second)
    after = [await restarted.get_instance(i.id) for i in (waiting, completed, failed)]
    assert [s.status for s in after] == [WorkflowStatus.WAITING, WorkflowStatus.COMPLETED, WorkflowStatus.FAILED]
    assert before == after
    assert after[0].data == {**data, "submitted": True}


async def test_twenty_engines_racing_for_one_task_have_exactly_one_winner(backend: Backend) -> None:
    registry = WorkflowRegistry()
    registry.register_definition(approval())
    setup = backend.another()
    starter = LocalExecutionEngine(registry, setup)
    instance = await starter.start_workflow("approval")
    await starter.wait_for(instance.id, timeout=10)
    (task,) = await setup.list_tasks(instance_id=instance.id, status=TaskStatus.OPEN)
    await starter.stop(0)

    stores = [backend.another() for _ in range(20)]  # twenty processes on SQL
    engines = [LocalExecutionEngine(registry, store) for store in stores]
    for store in stores:  # connect first, so the race is about the completion, not the connection set-up
        await store.get_task(task.id)

    async def complete(index: int) -> str:
        try:
            await engines[index].complete_task(task.id, f"user{index}", {"approved": index % 2 == 0})
        except TaskAlreadyCompletedError:
            return "late"
        return f"user{index}"

    results = await asyncio.gather(*(complete(i) for i in range(20)))
    winners = [r for r in results if r != "late"]
    assert len(winners) == 1
    for engine in engines:
        await engine.stop(0)
    final = await engines[0].wait_for(instance.id, timeout=10)
    assert final.status is WorkflowStatus.COMPLETED
    approvals = [e for e in final.context.step_history if e.step_name == "approve"]
    assert len(approvals) == 1 and approvals[0].completed_by == winners[0]
    assert final.data["approved"] == (int(winners[0].removeprefix("user")) % 2 == 0)
    stored_task = await setup.get_task(task.id)
    assert stored_task is not None and stored_task.completed_by == winners[0]


async def test_two_engines_on_one_store_run_each_step_once(backend: Backend) -> None:
    counter = CountStep("count")
    definition = chain("shared", [BaseHumanStep("approve"), counter, SetStep("end")])
    first = LocalExecutionEngine(WorkflowRegistry(), backend.another())
    second = LocalExecutionEngine(WorkflowRegistry(), backend.another())
    second.registry.register_definition(definition)
    try:
        started = await first.start_workflow(definition)
        await first.wait_for(started.id, timeout=10)
        await second.start()
        await second.complete_human_task(started.id, "approve", "ann", {})
        done = await second.wait_for(started.id, timeout=10)
        assert done.status is WorkflowStatus.COMPLETED
        await first.recover()
        assert isinstance(first.dispatcher, InProcessDispatcher)
        for _ in range(2000):  # whatever the recovery dispatched has run (a bounded wait)
            if not first.dispatcher.pending:
                break
            await asyncio.sleep(0.005)
        assert counter.runs == 1
        assert [e.step_name for e in done.context.step_history] == ["approve", "count", "end"]
    finally:
        await first.stop(0)
        await second.stop(0)


async def test_a_start_answers_with_the_tasks_its_commit_stored(store: WorkflowPersistence) -> None:
    registry = WorkflowRegistry()
    registry.register_definition(chain("ask", [BaseHumanStep("review", "Review", form_schema=APPROVAL_FORM)]))
    registry.register_definition(approval())
    await store.open(registry)
    engine = LocalExecutionEngine(registry, store)
    started = await engine.start_workflow_detailed("ask", {"n": 1}, started_by="ann")
    stored = await store.list_tasks(instance_id=started.instance.id)
    assert [task.step_name for task in stored] == ["review"]
    assert started.opened_tasks == stored  # field for field, as the API answers the start
    assert started.instance == await store.load_instance(started.instance.id)
    machine_first = await engine.start_workflow_detailed("approval")
    assert machine_first.opened_tasks == []  # its task opens once the machine step ran, after the answer
    await engine.stop(0)
