"""The engine's fast lane (``succeed_simply``) commits exactly what the general path commits.

``succeed_simply`` builds the next state of the common case (one token, one unconditional edge
to a plain step, or a terminal step) directly instead of copying the state and moving tokens.
These tests compare it with ``Transition.step_succeeded`` state by state, and run whole
workflows with and without it, comparing committed states, step history, events and dispatches.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    Edge,
    InMemoryPersistence,
    InProcessDispatcher,
    LocalExecutionEngine,
    ParallelGateway,
    StepExecution,
    StepStatus,
    TimerStep,
    WebhookStep,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowInstanceData,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.core.models import Token
from litestar_workflows.engine import engine as engine_module
from litestar_workflows.engine.transitions import Changes, Transition, new_instance, succeed_simply
from tests.helpers import FuncStep, SetStep, chain, comparable_state, flow, fork_and_join

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _started(definition: WorkflowDefinition, data: dict[str, Any] | None = None) -> WorkflowInstanceData:
    """A committed, running instance with its first token placed (as ``start_workflow`` commits it)."""
    transition = Transition(definition, new_instance(definition, data or {}, NOW), NOW, fresh=True)
    transition.start()
    return transition.state


def _general(
    definition: WorkflowDefinition, committed: WorkflowInstanceData, changes: Changes, execution: StepExecution
) -> Transition:
    transition = Transition(definition, committed, NOW)
    token = transition.state.tokens[0]
    transition.step_succeeded(token, changes, execution, None)
    return transition


def _execution(step: str, status: StepStatus = StepStatus.SUCCEEDED) -> StepExecution:
    return StepExecution(step, status, result=1, started_at=NOW, completed_at=NOW)


def _assert_same(fast: Transition | None, general: Transition) -> None:
    assert fast is not None
    assert fast.state == general.state
    assert fast.executions == general.executions
    assert fast.events == general.events
    assert fast.opened_tasks == general.opened_tasks == []
    assert fast.closed_tasks == general.closed_tasks == []
    assert fast.now == general.now


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        (Changes(), StepStatus.SUCCEEDED),
        (Changes({"x": 2, "new": [1, {"a": None}]}), StepStatus.SUCCEEDED),
        (Changes({"y": "z"}, ["x"]), StepStatus.SUCCEEDED),
        (Changes(), StepStatus.SKIPPED),
    ],
)
def test_a_middle_and_a_last_step_match_the_general_path(changes: Changes, status: StepStatus) -> None:
    definition = chain("simple", [SetStep("a"), SetStep("b"), SetStep("c")])
    committed = _started(definition, {"x": 1, "keep": "me"})
    committed_copy = committed.copy(share_history=False)
    for step in ("a", "b", "c"):
        token_id = committed.tokens[0].id
        execution = _execution(step, status)
        fast = succeed_simply(definition, committed, token_id, changes, execution, NOW)
        general = _general(definition, committed, changes, execution)
        _assert_same(fast, general)
        assert committed == committed_copy  # the committed state was not touched
        assert fast is not None
        committed = fast.state
        committed_copy = committed.copy(share_history=False)
    assert committed.status is WorkflowStatus.COMPLETED
    assert committed.completed_at == NOW
    assert fast is not None
    assert [event for event, _ in fast.events] == ["step.succeeded", "workflow.completed"]


def test_a_loop_back_to_an_earlier_step_matches_the_general_path() -> None:
    definition = flow("loop", [SetStep("a"), SetStep("b")], [("a", "b"), ("b", "a")], "a", [])
    committed = _started(definition)
    for step in ("a", "b", "a"):
        execution = _execution(step)
        fast = succeed_simply(definition, committed, committed.tokens[0].id, Changes({step: 1}), execution, NOW)
        _assert_same(fast, _general(definition, committed, Changes({step: 1}), execution))
        assert fast is not None
        committed = fast.state
    assert committed.status is WorkflowStatus.RUNNING
    assert committed.tokens[0].id == "t4"


def _not_simple_cases() -> list[tuple[str, WorkflowDefinition, WorkflowInstanceData]]:
    fork = flow(
        "fork",
        [SetStep("a"), ParallelGateway("g", ["b", "c"]), SetStep("b"), SetStep("c"), SetStep("end")],
        [("a", "g"), ("g", "b"), ("g", "c"), ("b", "end"), ("c", "end")],
        "g",
        ["end"],
    )
    two_edges = flow("two", [SetStep("a"), SetStep("b"), SetStep("c")], [("a", "b"), ("a", "c")], "a", ["b", "c"])
    conditional = flow(
        "cond",
        [SetStep("a"), SetStep("b")],
        [Edge("a", "b", condition=lambda context: bool(context.get("go")))],
        "a",
        ["b"],
    )
    human = chain("human", [SetStep("a"), BaseHumanStep("h"), SetStep("c")])
    webhook = chain("hook", [SetStep("a"), WebhookStep("w"), SetStep("c")])
    timer = chain("timer", [SetStep("a"), TimerStep("t", timedelta(seconds=5)), SetStep("c")])
    join = flow(
        "join",
        [SetStep("a"), SetStep("b"), SetStep("j")],
        [("a", "j"), ("b", "j"), ("a", "b")],
        "a",
        ["j"],
    )
    cases = [(d.name, d, _started(d)) for d in (fork, two_edges, conditional, human, webhook, timer, join)]
    with_delta = _started(human)
    with_delta.tokens[0].delta = {"x": 1}
    cases.append(("branch-local writes", human, with_delta))
    two_tokens = _started(human)
    second = msgspec.structs.replace(two_tokens.tokens[0], id="t9", delta={}, removed=(), writers={})
    two_tokens.tokens.append(second)
    cases.append(("two tokens", human, two_tokens))
    failed = _started(human)
    failed.status = WorkflowStatus.FAILED
    cases.append(("failed instance", human, failed))
    return cases


@pytest.mark.parametrize(("label", "definition", "committed"), _not_simple_cases(), ids=lambda value: str(value)[:20])
def test_other_cases_are_left_to_the_general_path(
    label: str, definition: WorkflowDefinition, committed: WorkflowInstanceData
) -> None:
    token = committed.tokens[0]
    execution = _execution(token.step)
    assert succeed_simply(definition, committed, token.id, Changes(), execution, NOW) is None, label


def test_an_unknown_or_waiting_token_is_left_to_the_general_path() -> None:
    definition = chain("waiting", [BaseHumanStep("h"), SetStep("b")])
    committed = _started(definition)
    assert succeed_simply(definition, committed, committed.tokens[0].id, Changes(), _execution("h"), NOW) is None
    plain = _started(chain("plain", [SetStep("a"), SetStep("b")]))
    assert succeed_simply(definition, plain, "t99", Changes(), _execution("a"), NOW) is None


# --- whole workflows, with and without the fast lane ------------------------------------------


class _RecordingBus:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def emit(self, event_type: str, **payload: Any) -> None:
        if "task_id" in payload:
            payload["task_id"] = "(random)"
        self.events.append((event_type, payload))


class _RecordingDispatcher(InProcessDispatcher):
    def __init__(self, engine: LocalExecutionEngine) -> None:
        super().__init__(engine.run_token)
        self.dispatched: list[tuple[UUID, str, datetime | None]] = []

    def dispatch(self, instance_id: UUID, token_id: str, not_before: datetime | None = None) -> None:
        self.dispatched.append((instance_id, token_id, not_before))
        super().dispatch(instance_id, token_id, not_before)


class _SkipStep(BaseMachineStep):
    async def can_execute(self, context: WorkflowContext) -> bool:
        return False


class _FlakyStep(BaseMachineStep):
    def __init__(self, name: str) -> None:
        super().__init__(name, max_retries=2)
        self.calls = 0

    async def execute(self, context: WorkflowContext) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("first attempt fails")
        context.set("flaky", self.calls)
        return self.calls


async def _drop(context: WorkflowContext) -> str:
    del context.data["x"]
    context.set("dropped", True)
    return "gone"


def _definitions() -> list[WorkflowDefinition]:
    return [
        chain("plain", [SetStep("a", "x", 1), SetStep("b", "y", "two"), FuncStep("c", _drop)]),
        chain("skip", [SetStep("a", "x", 1), _SkipStep("s"), SetStep("c", "z", [1, 2])]),
        chain("flaky", [SetStep("a", "x", 1), _FlakyStep("f"), SetStep("c", "z", {"k": "v"})]),
        fork_and_join(),
        flow(
            "conditional",
            [SetStep("a", "x", 1), SetStep("b", "b", 1), SetStep("c", "c", 1)],
            [Edge("a", "b", condition=lambda context: context.get("x") == 1), Edge("a", "c", condition="x == 2")],
            "a",
            ["b", "c"],
        ),
        chain("human", [SetStep("a", "x", 1), BaseHumanStep("h"), SetStep("c", "c", 1), SetStep("d", "d", 1)]),
        chain("hook", [SetStep("a", "x", 1), WebhookStep("w"), SetStep("c", "c", 1)]),
    ]


async def _run_all(with_bus: bool) -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
    registry = WorkflowRegistry()
    persistence = InMemoryPersistence()
    bus = _RecordingBus()
    engine = LocalExecutionEngine(registry, persistence, bus if with_bus else None, clock=lambda: NOW)
    dispatcher = _RecordingDispatcher(engine)
    engine.dispatcher = dispatcher
    states: list[dict[str, Any]] = []
    try:
        for number, definition in enumerate(_definitions()):
            instance_id = UUID(int=number + 1)
            await engine.start_workflow(definition, {"n": number}, instance_id=instance_id)
            state = await engine.wait_for(instance_id, 5)
            if definition.name == "human":
                (task,) = await engine.get_tasks(instance_id)
                await engine.complete_task(task.id, "ann", {})
                state = await engine.wait_for(instance_id, 5)
            if definition.name == "hook":
                await engine.signal(instance_id, "w", {"paid": True})
                state = await engine.wait_for(instance_id, 5)
            assert state.status is WorkflowStatus.COMPLETED, (definition.name, state)
            committed = await persistence.load_instance(instance_id)
            assert committed is not None
            states.append(comparable_state(committed))
    finally:
        await engine.stop(0)
    return states, bus.events, dispatcher.dispatched


@pytest.mark.parametrize("with_bus", [True, False])
async def test_workflows_commit_the_same_with_and_without_the_fast_lane(
    monkeypatch: pytest.MonkeyPatch, with_bus: bool
) -> None:
    fast_states, fast_events, fast_dispatched = await _run_all(with_bus)
    calls: list[str] = []

    def counting(*args: Any) -> Transition | None:
        calls.append(args[2])
        return succeed_simply(*args)

    monkeypatch.setattr(engine_module, "succeed_simply", counting)
    await _run_all(with_bus)
    assert calls  # the fast lane is really taken on this path

    monkeypatch.setattr(engine_module, "succeed_simply", lambda *args: None)
    general_states, general_events, general_dispatched = await _run_all(with_bus)

    assert fast_states == general_states
    assert fast_events == general_events
    assert fast_dispatched == general_dispatched
    assert bool(fast_events) is with_bus
    assert fast_dispatched  # new work was dispatched (and compared)


@pytest.mark.parametrize("initial_data", [{}, {"x": 1}])
def test_the_direct_start_matches_placing_the_first_token_through_the_general_path(
    initial_data: dict[str, Any],
) -> None:
    definition = chain("start", [SetStep("a"), SetStep("b")])
    direct = Transition(definition, new_instance(definition, initial_data, NOW, UUID(int=7)), NOW, fresh=True)
    direct.start()
    general = Transition(definition, new_instance(definition, initial_data, NOW, UUID(int=7)), NOW, fresh=True)
    root = Token("", "a")
    general._enter(general._new_token("a", root, ()))
    general._settle()
    general.events.insert(0, ("workflow.started", {"workflow_name": "start"}))
    assert direct.state == general.state
    assert direct.state.status is WorkflowStatus.RUNNING
    assert direct.events == general.events
    assert direct.executions == general.executions == []


def test_a_start_on_a_pausing_step_still_opens_its_task() -> None:
    definition = chain("start_human", [BaseHumanStep("h"), SetStep("b")])
    transition = Transition(definition, new_instance(definition, {}, NOW), NOW, fresh=True)
    transition.start()
    assert transition.state.status is WorkflowStatus.WAITING
    assert [task.step_name for task in transition.opened_tasks] == ["h"]
    assert [event for event, _ in transition.events] == ["workflow.started", "task.created", "workflow.waiting"]
