"""What code written for litestar-workflows 0.3 imports and calls keeps working here."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    Edge,
    InMemoryEventBus,
    LocalExecutionEngine,
    Step,
    WebhookStep,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.core.events import (
    HumanTaskCompleted,
    HumanTaskCreated,
    StepCompleted,
    WorkflowCompleted,
    WorkflowPaused,
    WorkflowStarted,
    typed_event,
)
from litestar_workflows.engine.events import WorkflowEvent

_EVENTS_03 = [
    "WorkflowEvent",
    "WorkflowStarted",
    "WorkflowCompleted",
    "WorkflowFailed",
    "WorkflowCanceled",
    "WorkflowPaused",
    "WorkflowResumed",
    "StepStarted",
    "StepCompleted",
    "StepFailed",
    "StepSkipped",
    "HumanTaskCreated",
    "HumanTaskCompleted",
    "HumanTaskReassigned",
]
IMPORTS_03 = {
    # the package's own __all__ lists in 0.3.3 (core, engine, root), and the modules users import from
    "litestar_workflows.core": [
        *_EVENTS_03,
        "Context",
        "Edge",
        "ExecutionEngine",
        "Step",
        "StepExecution",
        "StepStatus",
        "StepT",
        "StepType",
        "T",
        "Workflow",
        "WorkflowContext",
        "WorkflowDefinition",
        "WorkflowInstance",
        "WorkflowStatus",
        "WorkflowT",
    ],
    "litestar_workflows.core.protocols": ["ExecutionEngine", "Step", "Workflow", "WorkflowInstance"],
    "litestar_workflows.engine": [
        "ExecutionEngine",
        "LocalExecutionEngine",
        "WorkflowGraph",
        "WorkflowInstance",
        "WorkflowRegistry",
    ],
    "litestar_workflows.engine.local": ["LocalExecutionEngine"],
    "litestar_workflows.engine.base": ["ExecutionEngine"],
    "litestar_workflows.engine.instance": ["WorkflowInstance"],
    "litestar_workflows.engine.graph": ["WorkflowGraph"],
    "litestar_workflows.exceptions": ["WorkflowsError", "StepExecutionError", "UnauthorizedTaskError"],
    "litestar_workflows.core.types": ["StepExecution", "Context", "StepT", "WorkflowT", "T"],
    "litestar_workflows.core.events": ["WorkflowStarted", "StepCompleted", "HumanTaskCreated", "WorkflowEvent"],
    "litestar_workflows.steps.gateway": ["ExclusiveGateway", "ParallelGateway"],
    "litestar_workflows.steps.groups": ["SequentialGroup", "ParallelGroup", "ConditionalGroup", "StepGroup"],
    "litestar_workflows": ["SequentialGroup", "ParallelGroup", "ConditionalGroup", "StepExecution", "__project__"],
}


@pytest.mark.parametrize("module", sorted(IMPORTS_03))
def test_03_import_paths_exist(module: str) -> None:
    imported = importlib.import_module(module)
    for name in IMPORTS_03[module]:
        assert getattr(imported, name) is not None, f"{module}.{name}"


def test_03_paths_are_the_same_objects_as_ours() -> None:
    from litestar_workflows import LocalExecutionEngine as Ours
    from litestar_workflows.core.context import StepExecution
    from litestar_workflows.core.types import StepExecution as StepExecution03
    from litestar_workflows.engine.local import LocalExecutionEngine as Engine03
    from litestar_workflows.exceptions import WorkflowsError as Error03

    assert Engine03 is Ours
    core = importlib.import_module("litestar_workflows.core")
    engine = importlib.import_module("litestar_workflows.engine")
    events = importlib.import_module("litestar_workflows.core.events")
    assert all(getattr(core, name) is getattr(events, name) for name in _EVENTS_03)
    assert (
        core.WorkflowInstance
        is engine.WorkflowInstance
        is importlib.import_module("litestar_workflows").WorkflowInstanceData
    )
    assert engine.WorkflowGraph is importlib.import_module("litestar_workflows").WorkflowGraph
    assert StepExecution03 is StepExecution
    assert Error03 is importlib.import_module("litestar_workflows").WorkflowsError


class Start(BaseMachineStep):
    name = "start"

    async def execute(self, context: WorkflowContext) -> str:
        return "started"


def approval() -> WorkflowDefinition:
    return WorkflowDefinition(
        "typed",
        "1",
        "",
        {"start": Start(), "approve": BaseHumanStep("approve")},
        [Edge("start", "approve")],
        "start",
        {"approve"},
    )


async def test_bus_events_convert_to_the_03_event_classes() -> None:
    bus = InMemoryEventBus()
    engine = LocalExecutionEngine(WorkflowRegistry(), event_bus=bus)
    async with bus.subscribe() as queue:
        started = await engine.start_workflow(approval())
        await engine.wait_for(started.id, timeout=5)
        await engine.complete_human_task(started.id, "approve", "bob", {})
        await engine.wait_for(started.id, timeout=5)
        received: list[WorkflowEvent] = []
        while not queue.empty():
            received.append(queue.get_nowait())
    typed = [typed_event(event) for event in received]
    assert [type(event) for event in typed] == [
        WorkflowStarted,
        StepCompleted,
        HumanTaskCreated,
        WorkflowPaused,
        HumanTaskCompleted,
        StepCompleted,
        WorkflowCompleted,
    ]
    assert all(event is not None and event.instance_id == started.id for event in typed)
    first, created, paused, completed = typed[0], typed[2], typed[3], typed[4]
    assert isinstance(first, WorkflowStarted) and first.workflow_name == "typed"
    assert isinstance(created, HumanTaskCreated) and created.step_name == "approve"
    assert isinstance(paused, WorkflowPaused) and paused.paused_at_step == "approve"
    assert isinstance(completed, HumanTaskCompleted) and completed.completed_by == "bob"
    assert completed.task_id == created.task_id
    assert typed_event(WorkflowEvent("workflow.retried", started.id)) is None


async def test_the_waiting_event_names_the_step_as_03_did() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    class Recorder:
        async def emit(self, event_type: str, **payload: Any) -> None:
            calls.append((event_type, payload))

    engine = LocalExecutionEngine(WorkflowRegistry(), event_bus=Recorder())
    started = await engine.start_workflow(approval())
    await engine.wait_for(started.id, timeout=5)
    waiting = [payload for event_type, payload in calls if event_type == "workflow.waiting"]
    assert waiting == [{"instance_id": started.id, "steps": ["approve"], "step_name": "approve"}]


async def test_a_webhook_payload_lands_under_03s_default_key() -> None:
    definition = WorkflowDefinition(
        "hook", "1", "", {"wait": WebhookStep("wait"), "end": Start("end")}, [Edge("wait", "end")], "wait", {"end"}
    )
    engine = LocalExecutionEngine(WorkflowRegistry())
    started = await engine.start_workflow(definition)
    await engine.wait_for(started.id, timeout=5)
    await engine.signal(started.id, "wait", {"paid": True})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.data["webhook_data"] == {"paid": True}
    context = done.context.evolve(current_step="wait")
    assert await WebhookStep("wait").execute(context) == {"paid": True}


def test_exceptions_take_03s_arguments_and_ours() -> None:
    from litestar_workflows.exceptions import (
        InvalidTransitionError,
        StepExecutionError,
        TaskAlreadyCompletedError,
        TaskNotFoundError,
        UnauthorizedTaskError,
        WorkflowAlreadyCompletedError,
        WorkflowNotFoundError,
        WorkflowValidationError,
    )

    cause = ValueError("disk full")
    assert StepExecutionError("save", cause=cause).cause is cause
    assert str(StepExecutionError("save", cause)) == "step 'save' failed: disk full"
    assert str(StepExecutionError("save", "timed out")) == "step 'save' failed: timed out"
    move = InvalidTransitionError("a", "b", reason="no edge")
    assert (move.from_step, move.to_step, str(move)) == ("a", "b", "invalid transition from 'a' to 'b': no edge")
    assert str(InvalidTransitionError("instance x is not waiting")) == "instance x is not waiting"
    done = WorkflowAlreadyCompletedError("i-1", "failed")
    assert (done.instance_id, done.status) == ("i-1", "failed")
    assert str(WorkflowAlreadyCompletedError("instance i-1 is completed")) == "instance i-1 is completed"
    invalid = WorkflowValidationError(["no start", "no end"])
    assert invalid.errors == ["no start", "no end"] and "no start; no end" in str(invalid)
    task_id = uuid4()
    assert TaskNotFoundError(task_id).task_id == task_id
    assert str(TaskNotFoundError(task_id)) == f"task {task_id} not found"
    assert TaskNotFoundError("task of step 'x' not found").task_id is None
    assert TaskAlreadyCompletedError("t-9").task_id == "t-9"
    denied = UnauthorizedTaskError(task_id, "eve")
    assert (denied.task_id, denied.user_id) == (task_id, "eve")
    assert str(denied) == f"user 'eve' is not authorized to act on task {task_id}"
    assert str(UnauthorizedTaskError("eve may not act on this task")) == "eve may not act on this task"
    # 0.3's parameter names, given as keywords
    task_id = uuid4()
    assert TaskNotFoundError(task_id=task_id).task_id == task_id
    assert str(TaskAlreadyCompletedError(task_id=task_id)) == f"task {task_id} is already completed"
    denied = UnauthorizedTaskError(task_id=task_id, user_id="eve")
    assert (denied.task_id, denied.user_id) == (task_id, "eve")
    done = WorkflowAlreadyCompletedError(instance_id="i-2", status="completed")
    assert (done.instance_id, done.status, str(done)) == (
        "i-2",
        "completed",
        "workflow instance i-2 is already completed",
    )
    move = InvalidTransitionError(from_step="a", to_step="b", reason="no edge")
    assert (move.from_step, move.to_step, str(move)) == ("a", "b", "invalid transition from 'a' to 'b': no edge")
    assert WorkflowValidationError(errors=["no start"]).errors == ["no start"]
    assert StepExecutionError(step_name="save", cause=cause).cause is cause
    with pytest.raises(KeyError):  # 0.3's registry raised KeyError for unknown names
        WorkflowRegistry().get_definition("nope")
    assert str(WorkflowNotFoundError("nope")) == "workflow 'nope' is not registered"


def test_graph_paths_and_depth() -> None:
    steps: dict[str, Step] = {name: Start(name) for name in ("a", "b", "c", "d")}
    edges = [Edge("a", "b"), Edge("a", "c"), Edge("b", "d"), Edge("c", "d"), Edge("d", "a", "again")]
    graph = WorkflowDefinition("paths", "1", "", steps, edges, "a", {"d"}).graph
    assert graph.get_all_paths("a", "d") == [["a", "b", "d"], ["a", "c", "d"]]
    assert graph.get_all_paths("a", "d", max_paths=1) == [["a", "b", "d"]]
    assert graph.get_all_paths("a", "a") == [["a"]]
    assert graph.get_all_paths("zz", "a") == []
    assert [graph.get_step_depth(name) for name in ("a", "b", "d", "zz")] == [0, 1, 2, -1]
    assert graph.validate() == ["terminal step 'd' has outgoing edges"]
    # 0.3's parameter names, as keywords
    context = WorkflowContext(uuid4(), uuid4(), {}, {}, "a", [], datetime.now(UTC))
    assert graph.get_next_steps(current="a", context=context) == ["b", "c"]
    assert graph.get_previous_steps(current="d") == ["b", "c"]
