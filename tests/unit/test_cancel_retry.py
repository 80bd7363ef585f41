"""Cancelling instances, retrying failed ones, and scheduling a step by hand."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

import pytest

from litestar_workflows import (
    BaseHumanStep,
    Edge,
    InvalidTransitionError,
    LocalExecutionEngine,
    ParallelGateway,
    StepStatus,
    TaskAlreadyCompletedError,
    TaskStatus,
    WebhookStep,
    WorkflowAlreadyCompletedError,
    WorkflowContext,
    WorkflowInstanceNotFoundError,
    WorkflowStatus,
)
from tests.helpers import CountStep, FuncStep, SetStep, chain, flow


async def test_cancel_stops_a_running_step(engine: LocalExecutionEngine) -> None:
    entered = asyncio.Event()
    stopped = asyncio.Event()
    after = CountStep("after")

    async def block(context: WorkflowContext) -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.set()
            raise

    started = await engine.start_workflow(chain("cancel_running", [FuncStep("block", block), after]))
    await asyncio.wait_for(entered.wait(), timeout=5)

    cancelled = await engine.cancel_workflow(started.id, "customer withdrew")
    assert cancelled.status is WorkflowStatus.CANCELED
    assert cancelled.cancel_reason == "customer withdrew"
    await asyncio.wait_for(stopped.wait(), timeout=5)

    final = await engine.wait_for(started.id, timeout=5)
    assert final.status is WorkflowStatus.CANCELED
    assert final.error is not None and "customer withdrew" in final.error
    assert final.completed_at is not None
    block_runs = [e for e in final.context.step_history if e.step_name == "block"]
    assert [(e.status, e.error) for e in block_runs] == [(StepStatus.CANCELED, "canceled: customer withdrew")]
    assert after.runs == 0


async def test_cancel_cancels_open_tasks(engine: LocalExecutionEngine) -> None:
    definition = flow(
        "cancel_tasks",
        [ParallelGateway("fork", ["a", "b"]), BaseHumanStep("a"), BaseHumanStep("b"), SetStep("join")],
        [("a", "join"), ("b", "join")],
        "fork",
        ["join"],
    )
    started = await engine.start_workflow(definition)
    await engine.wait_for(started.id, timeout=5)
    assert len(await engine.get_tasks(started.id)) == 2

    await engine.cancel_workflow(started.id, "obsolete")
    tasks = await engine.get_tasks(started.id, status=None)
    assert [t.status for t in tasks] == [TaskStatus.CANCELED, TaskStatus.CANCELED]
    assert await engine.get_tasks(started.id) == []
    with pytest.raises(TaskAlreadyCompletedError, match="canceled"):
        await engine.complete_human_task(started.id, "a", "bob", {})


async def test_cancelling_a_finished_instance_is_refused(engine: LocalExecutionEngine) -> None:
    started = await engine.start_workflow(chain("cancel_done", [SetStep("a")]))
    await engine.wait_for(started.id, timeout=5)
    with pytest.raises(InvalidTransitionError):
        await engine.cancel_workflow(started.id, "too late")
    with pytest.raises(WorkflowAlreadyCompletedError):
        await engine.cancel_workflow(started.id, "too late")
    assert (await engine.get_instance(started.id)).status is WorkflowStatus.COMPLETED
    assert issubclass(WorkflowAlreadyCompletedError, InvalidTransitionError)

    waiting = await engine.start_workflow(chain("cancel_twice", [BaseHumanStep("h"), SetStep("end")]))
    await engine.cancel_workflow(waiting.id, "first")
    with pytest.raises(WorkflowAlreadyCompletedError):
        await engine.cancel_workflow(waiting.id, "second")
    assert (await engine.get_instance(waiting.id)).cancel_reason == "first"
    with pytest.raises(WorkflowInstanceNotFoundError):
        await engine.cancel_workflow(uuid4(), "nobody")


async def test_retry_resumes_from_the_failed_step(engine: LocalExecutionEngine) -> None:
    fixed = asyncio.Event()
    first = CountStep("first")

    async def fragile(context: WorkflowContext) -> str:
        if not fixed.is_set():
            raise RuntimeError("downstream unavailable")
        context.set("fragile", "ok")
        return "ok"

    definition = chain("retry_me", [first, FuncStep("fragile", fragile), SetStep("end", "done", True)])
    started = await engine.start_workflow(definition)
    failed = await engine.wait_for(started.id, timeout=5)
    assert failed.status is WorkflowStatus.FAILED

    with pytest.raises(WorkflowInstanceNotFoundError):
        await engine.retry_workflow(uuid4())

    fixed.set()
    retried = await engine.retry_workflow(started.id)
    assert retried.status is WorkflowStatus.RUNNING
    assert retried.error is None
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.data["done"] is True and done.data["fragile"] == "ok"
    assert first.runs == 1, "steps before the failure are not run again"
    fragile_runs = [(e.status, e.attempt) for e in done.context.step_history if e.step_name == "fragile"]
    assert fragile_runs == [(StepStatus.FAILED, 1), (StepStatus.SUCCEEDED, 2)]

    with pytest.raises(InvalidTransitionError, match="only failed"):
        await engine.retry_workflow(started.id)


async def test_retry_reopens_tasks_cancelled_by_the_failure(engine: LocalExecutionEngine) -> None:
    fixed = asyncio.Event()

    async def fragile(context: WorkflowContext) -> None:
        if not fixed.is_set():
            raise RuntimeError("broken")

    definition = flow(
        "retry_tasks",
        [
            ParallelGateway("fork", ["human", "machine"]),
            BaseHumanStep("human"),
            FuncStep("machine", fragile),
            SetStep("join"),
        ],
        [("human", "join"), ("machine", "join")],
        "fork",
        ["join"],
    )
    started = await engine.start_workflow(definition)
    failed = await engine.wait_for(started.id, timeout=5)
    assert failed.status is WorkflowStatus.FAILED
    assert [t.status for t in await engine.get_tasks(started.id, status=None)] == [TaskStatus.CANCELED]

    fixed.set()
    await engine.retry_workflow(started.id)
    waiting = await engine.wait_for(started.id, timeout=5)
    assert waiting.status is WorkflowStatus.WAITING
    open_tasks = await engine.get_tasks(started.id)
    assert [t.step_name for t in open_tasks] == ["human"]
    await engine.complete_task(open_tasks[0].id, "ann", {})
    assert (await engine.wait_for(started.id, timeout=5)).status is WorkflowStatus.COMPLETED


async def test_retrying_a_running_or_cancelled_instance_is_refused(engine: LocalExecutionEngine) -> None:
    started = await engine.start_workflow(chain("not_failed", [BaseHumanStep("h"), SetStep("end")]))
    await engine.wait_for(started.id, timeout=5)
    with pytest.raises(InvalidTransitionError):
        await engine.retry_workflow(started.id)
    await engine.cancel_workflow(started.id, "stop")
    with pytest.raises(InvalidTransitionError):
        await engine.retry_workflow(started.id)


async def test_schedule_step_adds_runnable_work(engine: LocalExecutionEngine) -> None:
    extra = CountStep("extra")
    definition = flow(
        "schedulable",
        [SetStep("a"), WebhookStep("hook"), SetStep("end"), extra],
        [("a", "hook"), Edge("a", "extra", "manual == true"), ("hook", "end"), ("extra", "end")],
        "a",
        ["end"],
    )
    started = await engine.start_workflow(definition)
    waiting = await engine.wait_for(started.id, timeout=5)
    assert waiting.status is WorkflowStatus.WAITING
    with pytest.raises(InvalidTransitionError, match="no step"):
        await engine.schedule_step(started.id, "ghost")

    await engine.schedule_step(started.id, "extra", delay=timedelta(milliseconds=10))
    state = await engine.get_instance(started.id)
    token = next(t for t in state.tokens if t.step == "extra")
    assert token.not_before is not None
    # "end" is a join of "hook" and "extra": the instance waits for the webhook again.
    again = await engine.wait_for(started.id, timeout=5)
    assert again.status is WorkflowStatus.WAITING
    assert extra.runs == 1

    await engine.signal(started.id, "hook", None)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    with pytest.raises(WorkflowAlreadyCompletedError):
        await engine.schedule_step(started.id, "extra")


async def test_a_failed_instance_can_be_abandoned_by_cancelling_it(engine: LocalExecutionEngine) -> None:
    async def broken(context: WorkflowContext) -> None:
        raise RuntimeError("broken for good")

    started = await engine.start_workflow(chain("abandon", [FuncStep("bad", broken), SetStep("end")]))
    assert (await engine.wait_for(started.id, timeout=5)).status is WorkflowStatus.FAILED
    cancelled = await engine.cancel_workflow(started.id, "abandoned by the operator")
    assert cancelled.status is WorkflowStatus.CANCELED
    assert cancelled.cancel_reason == "abandoned by the operator"
    with pytest.raises(InvalidTransitionError):
        await engine.retry_workflow(started.id)


async def test_a_manual_retry_grants_the_step_its_automatic_retries_again(engine: LocalExecutionEngine) -> None:
    calls: list[int] = []

    async def flaky(context: WorkflowContext) -> None:
        calls.append(context.attempt)
        if len(calls) < 4:
            raise RuntimeError(f"failure {len(calls)}")

    step = FuncStep("flaky", flaky)
    step.max_retries = 1
    started = await engine.start_workflow(chain("rearm", [step, SetStep("end")]))
    assert (await engine.wait_for(started.id, timeout=5)).status is WorkflowStatus.FAILED
    assert calls == [1, 2]
    await engine.retry_workflow(started.id)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert calls == [1, 2, 3, 4]  # attempt 3 failed and was retried automatically once more
