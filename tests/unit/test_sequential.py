"""Sequential machine steps: each run is recorded, data flows from step to step."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest

from litestar_workflows import (
    BaseMachineStep,
    InMemoryEventBus,
    LocalExecutionEngine,
    StepExecutionError,
    StepStatus,
    WorkflowContext,
    WorkflowInstanceNotFoundError,
    WorkflowNotFoundError,
    WorkflowRegistry,
    WorkflowStatus,
    WorkflowValidationError,
)
from litestar_workflows.engine.events import WorkflowEvent
from tests.helpers import FuncStep, SetStep, chain, flow


async def test_steps_run_in_order_and_are_recorded(engine: LocalExecutionEngine) -> None:
    async def double(context: WorkflowContext) -> int:
        value = int(context.get("x")) * 2
        context.set("doubled", value)
        return value

    definition = chain("seq", [SetStep("a", "x", 21), FuncStep("b", double), SetStep("c", "done", True)])
    started = await engine.start_workflow(definition, {"input": "hello"})
    assert started.workflow_name == "seq"

    done = await engine.wait_for(started.id, timeout=5)

    assert done.status is WorkflowStatus.COMPLETED
    assert done.completed_at is not None
    assert done.data == {"input": "hello", "x": 21, "doubled": 42, "done": True}
    history = done.context.step_history
    assert [e.step_name for e in history] == ["a", "b", "c"]
    assert [e.status for e in history] == [StepStatus.SUCCEEDED] * 3
    assert [e.result for e in history] == [21, 42, True]
    for execution in history:
        assert execution.error is None
        assert execution.attempt == 1
        assert execution.started_at is not None
        assert execution.completed_at is not None
        assert execution.started_at <= execution.completed_at
    assert history[0].completed_at is not None and history[1].started_at is not None
    assert history[0].completed_at <= history[1].started_at


async def test_failed_step_is_recorded_with_its_error(engine: LocalExecutionEngine) -> None:
    async def boom(context: WorkflowContext) -> None:
        raise RuntimeError("disk on fire")

    definition = chain("fails", [SetStep("a", "x", 1), FuncStep("b", boom), SetStep("c", "y", 2)])
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)

    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None and "disk on fire" in done.error and "'b'" in done.error
    last = done.context.step_history[-1]
    assert (last.step_name, last.status, last.attempt) == ("b", StepStatus.FAILED, 1)
    assert last.error == "RuntimeError: disk on fire"
    assert "y" not in done.data
    assert "c" not in [e.step_name for e in done.context.step_history]


async def test_returned_instance_is_a_snapshot(engine: LocalExecutionEngine) -> None:
    definition = chain("snap", [SetStep("a", "x", 1), SetStep("b", "y", 2)])
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    done.data["x"] = "tampered"
    done.context.step_history.clear()
    done.context.metadata["workflow_name"] = "tampered"
    started.tokens.clear()

    again = await engine.get_instance(started.id)
    assert again.data["x"] == 1
    assert len(again.context.step_history) == 2
    assert again.context.metadata["workflow_name"] == "snap"


async def test_start_by_name_and_unknown_names(engine: LocalExecutionEngine, registry: WorkflowRegistry) -> None:
    registry.register_definition(chain("named", [SetStep("a", "x", 1)]))
    started = await engine.start_workflow("named")
    assert (await engine.wait_for(started.id, timeout=5)).status is WorkflowStatus.COMPLETED

    with pytest.raises(WorkflowNotFoundError):
        await engine.start_workflow("nope")
    with pytest.raises(WorkflowInstanceNotFoundError):
        await engine.get_instance(uuid4())
    with pytest.raises(WorkflowInstanceNotFoundError):
        await engine.wait_for(uuid4(), timeout=1)


async def test_unstorable_initial_data_is_refused(engine: LocalExecutionEngine) -> None:
    definition = chain("bad_input", [SetStep("a", "x", 1)])
    with pytest.raises(WorkflowValidationError, match="'blob'"):
        await engine.start_workflow(definition, {"blob": {1, 2}})
    assert engine.get_all_instances() == []


async def test_step_writing_unstorable_value_fails_the_step(engine: LocalExecutionEngine) -> None:
    class Sneaky(BaseMachineStep):
        async def execute(self, context: WorkflowContext) -> None:
            context.data["raw"] = object()  # bypasses context.set; the engine must still refuse it

    definition = chain("sneaky", [Sneaky("a"), SetStep("b", "y", 1)])
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None and "'raw'" in done.error
    assert "raw" not in done.data


async def test_running_and_all_instances(engine: LocalExecutionEngine) -> None:
    gate = asyncio.Event()

    async def hold(context: WorkflowContext) -> None:
        await gate.wait()

    definition = chain("listing", [FuncStep("a", hold), SetStep("b", "x", 1)])
    first = await engine.start_workflow(definition)
    second = await engine.start_workflow(definition)
    running = {instance.id for instance in engine.get_running_instances()}
    assert running == {first.id, second.id}

    gate.set()
    await engine.wait_for(first.id, timeout=5)
    await engine.wait_for(second.id, timeout=5)
    assert engine.get_running_instances() == []
    assert {instance.id for instance in engine.get_all_instances()} == {first.id, second.id}


async def test_wait_for_times_out(engine: LocalExecutionEngine) -> None:
    async def forever(context: WorkflowContext) -> None:
        await asyncio.Event().wait()

    started = await engine.start_workflow(chain("forever", [FuncStep("a", forever), SetStep("b")]))
    with pytest.raises(TimeoutError):
        await engine.wait_for(started.id, timeout=0.05)


async def test_events_of_a_simple_flow_in_order(engine: LocalExecutionEngine, event_bus: InMemoryEventBus) -> None:
    definition = chain("evented", [SetStep("a", "x", 1), SetStep("b", "y", 2)])
    events: list[WorkflowEvent] = []
    async with event_bus.subscribe() as queue:
        started = await engine.start_workflow(definition)
        await engine.wait_for(started.id, timeout=5)
        while not queue.empty():
            events.append(queue.get_nowait())

    assert [event.event_type for event in events] == [
        "workflow.started",
        "step.succeeded",
        "step.succeeded",
        "workflow.completed",
    ]
    assert all(event.instance_id == started.id for event in events)
    assert [event.payload.get("step_name") for event in events[1:3]] == ["a", "b"]
    assert events[0].payload["workflow_name"] == "evented"


async def test_event_subscription_filters_by_instance(
    engine: LocalExecutionEngine, event_bus: InMemoryEventBus
) -> None:
    definition = chain("filtered", [SetStep("a", "x", 1)])
    other = await engine.start_workflow(definition)
    await engine.wait_for(other.id, timeout=5)
    async with event_bus.subscribe(uuid4()) as nobody, event_bus.subscribe(max_backlog=2) as small:
        started = await engine.start_workflow(definition)
        await engine.wait_for(started.id, timeout=5)
        assert nobody.empty()
        # Only the two newest events are kept by a full queue.
        kept = [small.get_nowait().event_type, small.get_nowait().event_type]
        assert kept == ["step.succeeded", "workflow.completed"]


async def test_a_failing_event_bus_does_not_break_the_engine(registry: WorkflowRegistry) -> None:
    class Broken:
        async def emit(self, event_type: str, **payload: Any) -> None:
            raise RuntimeError("bus down")

    engine = LocalExecutionEngine(registry, event_bus=Broken())
    try:
        started = await engine.start_workflow(chain("robust", [SetStep("a", "x", 1)]))
        assert (await engine.wait_for(started.id, timeout=5)).status is WorkflowStatus.COMPLETED
    finally:
        await engine.stop(0)


async def test_execute_step_outside_an_instance(engine: LocalExecutionEngine) -> None:
    calls: list[str] = []

    class Hooked(BaseMachineStep):
        def __init__(self, name: str, fail: bool = False, allowed: bool = True) -> None:
            super().__init__(name)
            self.fail = fail
            self.allowed = allowed

        async def can_execute(self, context: WorkflowContext) -> bool:
            return self.allowed

        async def execute(self, context: WorkflowContext) -> Any:
            if self.fail:
                raise ValueError("nope")
            return context.get("_previous_result")

        async def on_success(self, context: WorkflowContext, result: Any) -> None:
            calls.append(f"success:{result}")

        async def on_failure(self, context: WorkflowContext, error: Exception) -> None:
            calls.append(f"failure:{error}")

    started = await engine.start_workflow(chain("ctx", [SetStep("a")]))
    context = (await engine.wait_for(started.id, timeout=5)).context
    assert await engine.execute_step(Hooked("ok"), context.with_step("ok"), previous_result=7) == 7
    assert await engine.execute_step(Hooked("skip", allowed=False), context.with_step("skip")) is None
    with pytest.raises(StepExecutionError, match=r"'bad'.*ValueError: nope"):
        await engine.execute_step(Hooked("bad", fail=True), context.with_step("bad"))
    assert calls == ["success:7", "failure:nope"]


async def test_definition_helpers(engine: LocalExecutionEngine) -> None:
    definition = flow("helpers", [SetStep("a"), SetStep("b")], [("a", "b")], "a", ["b"])
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    assert definition.get_next_steps("a", done.context) == ["b"]
    assert definition.graph.get_previous_steps("b") == ["a"]
    assert definition.graph.can_reach("a", "b")
    assert not definition.graph.can_reach("b", "a")
    assert done.context.idempotency_key == f"{done.id}:{done.context.current_step}:{done.context.attempt}"
