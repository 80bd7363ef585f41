"""Timers (durable due times) and webhooks (outside signals), including a restart on the same persistence."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

import pytest

from litestar_workflows import (
    BaseHumanStep,
    InMemoryPersistence,
    InvalidTransitionError,
    LocalExecutionEngine,
    StepStatus,
    TimerStep,
    WebhookStep,
    WorkflowAlreadyCompletedError,
    WorkflowContext,
    WorkflowInstanceNotFoundError,
    WorkflowRegistry,
    WorkflowStatus,
    WorkflowValidationError,
)
from litestar_workflows.core.types import TokenStatus
from tests.helpers import CountStep, FuncStep, SetStep, chain


async def test_timer_stores_due_time_and_fires(engine: LocalExecutionEngine) -> None:
    definition = chain("short_timer", [TimerStep("wait", timedelta(milliseconds=50)), SetStep("b")])
    started = await engine.start_workflow(definition)
    state = await engine.get_instance(started.id)
    assert state.status is WorkflowStatus.RUNNING
    (token,) = state.tokens
    assert (token.step, token.status) == ("wait", TokenStatus.READY)
    assert state.started_at is not None
    assert token.not_before == state.started_at + timedelta(milliseconds=50)

    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    runs = {e.step_name: e for e in done.context.step_history}
    assert runs["wait"].status is StepStatus.SUCCEEDED
    b_started = runs["b"].started_at
    assert b_started is not None and b_started - state.started_at >= timedelta(milliseconds=50)


async def test_timer_duration_from_context(engine: LocalExecutionEngine) -> None:
    step = TimerStep("wait", lambda c: timedelta(seconds=float(c.get("seconds", 0))))
    started = await engine.start_workflow(chain("ctx_timer", [step, SetStep("end")]), {"seconds": 600})
    state = await engine.get_instance(started.id)
    token = next(t for t in state.tokens if t.step == "wait")
    assert token.status is TokenStatus.READY
    assert token.not_before is not None and state.started_at is not None
    assert token.not_before - state.started_at == timedelta(seconds=600)
    with pytest.raises(TimeoutError):
        await engine.wait_for(started.id, timeout=0.05)


async def test_timer_whose_duration_cannot_be_computed_fails(engine: LocalExecutionEngine) -> None:
    step = TimerStep("wait", lambda c: timedelta(seconds=c.get("missing")))
    started = await engine.start_workflow(chain("bad_timer", [SetStep("a"), step, SetStep("end")]))
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None and "'wait'" in done.error and "duration" in done.error


async def test_restart_on_same_persistence(registry: WorkflowRegistry) -> None:
    persistence = InMemoryPersistence()
    release = asyncio.Event()
    blocked_runs: list[int] = []

    async def block(context: WorkflowContext) -> str:
        blocked_runs.append(context.attempt)
        await release.wait()
        return "released"

    timer_flow = chain("durable_timer", [TimerStep("wait", timedelta(milliseconds=100)), SetStep("after", "t", 1)])
    late_timer_flow = chain("late_timer", [TimerStep("wait", timedelta(hours=1)), SetStep("after")])
    running_flow = chain("durable_running", [FuncStep("block", block), SetStep("after", "r", 1)])
    waiting_flow = chain("durable_waiting", [BaseHumanStep("approve"), SetStep("after", "w", 1)])

    first = LocalExecutionEngine(registry, persistence)
    timer = await first.start_workflow(timer_flow)
    late = await first.start_workflow(late_timer_flow)
    running = await first.start_workflow(running_flow)
    waiting = await first.start_workflow(waiting_flow)
    assert (await first.wait_for(waiting.id, timeout=5)).status is WorkflowStatus.WAITING
    await asyncio.sleep(0)  # let "block" start
    assert blocked_runs == [1]
    await first.stop(0)

    # While no engine is up, the timer falls due; nothing runs.
    await asyncio.sleep(0.15)
    stored = await persistence.load_instance(timer.id)
    assert stored is not None and stored.status is WorkflowStatus.RUNNING
    assert [t.step for t in stored.tokens] == ["wait"]

    release.set()
    second = LocalExecutionEngine(registry, persistence)
    try:
        resumed = await second.start()
        assert resumed == 2  # the due timer and the interrupted step; not the late timer, not the waiting one

        timer_done = await second.wait_for(timer.id, timeout=5)
        assert timer_done.status is WorkflowStatus.COMPLETED
        assert timer_done.data["t"] == 1

        running_done = await second.wait_for(running.id, timeout=5)
        assert running_done.status is WorkflowStatus.COMPLETED
        assert running_done.data["r"] == 1
        assert len(blocked_runs) == 2  # the interrupted step ran again

        still_waiting = await second.get_instance(waiting.id)
        assert still_waiting.status is WorkflowStatus.WAITING
        assert still_waiting.active_steps == ["approve"]
        still_late = await second.get_instance(late.id)
        assert still_late.status is WorkflowStatus.RUNNING and still_late.active_steps == ["wait"]

        await second.complete_human_task(waiting.id, "approve", "eve", {})
        assert (await second.wait_for(waiting.id, timeout=5)).data["w"] == 1
    finally:
        await second.stop(0)


async def test_webhook_resumes_with_payload(engine: LocalExecutionEngine) -> None:
    after = CountStep("after")
    definition = chain("hook", [SetStep("a"), WebhookStep("payment", callback_key="payment"), after])
    started = await engine.start_workflow(definition)
    waiting = await engine.wait_for(started.id, timeout=5)
    assert waiting.status is WorkflowStatus.WAITING
    assert waiting.active_steps == ["payment"]
    assert after.runs == 0

    await engine.signal(started.id, "payment", {"paid": True, "amount": "12.50"})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.data["payment"] == {"paid": True, "amount": "12.50"}
    assert after.runs == 1
    hook_run = next(e for e in done.context.step_history if e.step_name == "payment")
    assert hook_run.status is StepStatus.SUCCEEDED and hook_run.result == {"paid": True, "amount": "12.50"}

    with pytest.raises(WorkflowAlreadyCompletedError):
        await engine.signal(started.id, "payment", {})


async def test_webhook_default_key_and_refusals(engine: LocalExecutionEngine) -> None:
    definition = chain("hook2", [SetStep("a"), WebhookStep("callback"), SetStep("end")])
    started = await engine.start_workflow(definition)
    await engine.wait_for(started.id, timeout=5)

    with pytest.raises(InvalidTransitionError, match="no webhook step"):
        await engine.signal(started.id, "a", {})
    with pytest.raises(InvalidTransitionError, match="no webhook step"):
        await engine.signal(started.id, "nope", {})
    with pytest.raises(WorkflowValidationError):
        await engine.signal(started.id, "callback", {"bad": {1}})
    with pytest.raises(WorkflowInstanceNotFoundError):
        await engine.signal(uuid4(), "callback", {})
    assert (await engine.get_instance(started.id)).status is WorkflowStatus.WAITING

    await engine.signal(started.id, "callback", "pong")
    done = await engine.wait_for(started.id, timeout=5)
    assert done.data["webhook_data"] == "pong"


async def test_signal_before_the_webhook_is_reached_is_refused(engine: LocalExecutionEngine) -> None:
    definition = chain("early", [BaseHumanStep("first"), WebhookStep("hook"), SetStep("end")])
    started = await engine.start_workflow(definition)
    await engine.wait_for(started.id, timeout=5)
    with pytest.raises(InvalidTransitionError, match="not waiting for a signal"):
        await engine.signal(started.id, "hook", {})
