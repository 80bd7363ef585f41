"""The reducer, cell by cell: every command in every instance state, legal (its effect) or not (its error).

The states come from one workflow, ``m -> g -> h -> w -> t -> end`` (a machine step, an exclusive
gateway, a human task, a webhook, a timer, a machine step), each reached by applying commands to
the previous one, so the table also shows that a run is a sequence of commands.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

import pytest

from litestar_workflows import BaseHumanStep, ExclusiveGateway, TimerStep, WebhookStep, WorkflowDefinition
from litestar_workflows.core.context import StepExecution
from litestar_workflows.core.exceptions import (
    InvalidTransitionError,
    TaskAlreadyCompletedError,
    WorkflowAlreadyCompletedError,
    WorkflowsError,
    WorkflowValidationError,
)
from litestar_workflows.core.kinds import CHILD, Entry, StepKind
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.types import StepStatus, TaskStatus, TokenStatus, WorkflowStatus
from litestar_workflows.engine.branches import Changes
from litestar_workflows.engine.commands import (
    AttemptFailed,
    AttemptFatal,
    AttemptSucceeded,
    Cancel,
    ChildFinished,
    Command,
    GatewayChose,
    NotCurrent,
    Retry,
    Schedule,
    SignalReceived,
    Start,
    TaskCompleted,
    TimerDue,
)
from litestar_workflows.engine.transitions import apply_command, new_instance
from tests.helpers import SetStep, chain, comparable_state

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DEFINITION = chain(
    "cells",
    [
        SetStep("m", "x", 1),
        ExclusiveGateway("g"),
        BaseHumanStep("h", form_schema={"type": "object"}),
        WebhookStep("w"),
        TimerStep("t", timedelta(hours=1)),
        SetStep("end", "y", 2),
    ],
)


def _ran(step: str, status: StepStatus = StepStatus.SUCCEEDED) -> StepExecution:
    return StepExecution(step, status, started_at=NOW, completed_at=NOW, error=None if status else "boom")


def _apply(state: WorkflowInstanceData, command: Command) -> WorkflowInstanceData:
    return apply_command(DEFINITION, state, command, NOW).state


def _token(state: WorkflowInstanceData) -> str:
    return state.tokens[0].id if state.tokens else "t0"


def _states() -> tuple[dict[str, WorkflowInstanceData], HumanTaskData]:
    pending = new_instance(DEFINITION, {}, NOW, UUID(int=1))
    pending.revision = 0  # as if committed: the reducer copies it instead of using it as is
    at_m = _apply(pending, Start())
    at_g = _apply(at_m, AttemptSucceeded(_token(at_m), _ran("m"), Changes({"x": 1})))
    started_h = apply_command(DEFINITION, at_g, GatewayChose(_token(at_g), _ran("g"), Changes(), ("h",)), NOW)
    at_h, task = started_h.state, started_h.opened_tasks[0]
    at_w = _apply(at_h, TaskCompleted(_token(at_h), task, "ann", {"ok": True}))
    at_t = _apply(at_w, SignalReceived("w", {"paid": True}))
    at_end = _apply(at_t, TimerDue(_token(at_t)))
    states = {
        "pending": pending,
        "ready at machine step": at_m,
        "ready at gateway": at_g,
        "waiting at task": at_h,
        "waiting for signal": at_w,
        "timer armed": at_t,
        "failed": _apply(at_m, AttemptFailed(_token(at_m), _ran("m", StepStatus.FAILED), None)),
        "completed": _apply(at_end, AttemptSucceeded(_token(at_end), _ran("end"), Changes({"y": 2}))),
        "canceled": _apply(at_h, Cancel("no longer needed")),
    }
    return states, task


STATES, TASK = _states()


def _command(name: str, state: WorkflowInstanceData) -> Command:
    token = _token(state)
    commands: dict[str, Command] = {
        "start": Start(),
        "attempt succeeded": AttemptSucceeded(token, _ran("m"), Changes({"z": 3})),
        "gateway chose": GatewayChose(token, _ran("g"), Changes(), ("h",)),
        "attempt failed": AttemptFailed(token, _ran("m", StepStatus.FAILED), None),
        "attempt fatal": AttemptFatal(token, _ran("g", StepStatus.FAILED), "matched no branch"),
        "timer due": TimerDue(token),
        "task completed": TaskCompleted(TASK.token_id, TASK, "bob", {"ok": False}),
        "signal": SignalReceived("w", {"paid": True}),
        "child finished": ChildFinished(token, {"child": 1}),
        "cancel": Cancel("stop"),
        "retry": Retry(),
        "schedule": Schedule("end"),
    }
    return commands[name]


RUNNING, WAITING, FAILED = WorkflowStatus.RUNNING, WorkflowStatus.WAITING, WorkflowStatus.FAILED
CANCELED, COMPLETED = WorkflowStatus.CANCELED, WorkflowStatus.COMPLETED
Invalid, Done, Gone = InvalidTransitionError, WorkflowAlreadyCompletedError, NotCurrent

_STATE_ORDER = list(STATES)
# One row per command; one column per state, in the order of ``STATES``:
# pending, machine, gateway, task, signal, timer, failed, completed, canceled.
TABLE: dict[str, list[Any]] = {
    "start": [RUNNING, Invalid, Invalid, Invalid, Invalid, Invalid, Invalid, Invalid, Invalid],
    "attempt succeeded": [Gone, RUNNING, WAITING, Gone, Gone, Invalid, Gone, Gone, Gone],
    "gateway chose": [Gone, Invalid, WAITING, Gone, Gone, Invalid, Gone, Gone, Gone],
    "attempt failed": [Gone, FAILED, FAILED, Gone, Gone, Invalid, Gone, Gone, Gone],
    "attempt fatal": [Gone, FAILED, FAILED, Gone, Gone, Invalid, Gone, Gone, Gone],
    "timer due": [Gone, Invalid, Invalid, Gone, Gone, RUNNING, Gone, Gone, Gone],
    "task completed": [
        TaskAlreadyCompletedError,
        TaskAlreadyCompletedError,
        TaskAlreadyCompletedError,
        WAITING,
        TaskAlreadyCompletedError,
        TaskAlreadyCompletedError,
        TaskAlreadyCompletedError,
        TaskAlreadyCompletedError,
        TaskAlreadyCompletedError,
    ],
    "signal": [Invalid, Invalid, Invalid, Invalid, RUNNING, Invalid, Done, Done, Done],
    "child finished": [Invalid, Invalid, Invalid, Invalid, Invalid, Invalid, Done, Done, Done],
    "cancel": [CANCELED, CANCELED, CANCELED, CANCELED, CANCELED, CANCELED, CANCELED, Done, Done],
    "retry": [Invalid, Invalid, Invalid, Invalid, Invalid, Invalid, RUNNING, Invalid, Invalid],
    "schedule": [RUNNING, RUNNING, RUNNING, RUNNING, RUNNING, RUNNING, Done, Done, Done],
}
CELLS = [
    pytest.param(state, command, expected, id=f"{state} x {command}")
    for command, row in TABLE.items()
    for state, expected in zip(_STATE_ORDER, row, strict=True)
]


@pytest.mark.parametrize(("state_name", "command_name", "expected"), CELLS)
def test_each_state_and_command(state_name: str, command_name: str, expected: Any) -> None:
    state = STATES[state_name]
    before = comparable_state(state)
    command = _command(command_name, state)
    if isinstance(expected, WorkflowStatus):
        assert apply_command(DEFINITION, state, command, NOW).state.status is expected
    else:
        with pytest.raises(expected):
            apply_command(DEFINITION, state, command, NOW)
    assert comparable_state(state) == before  # the committed state is never changed, legal or not


def test_the_states_the_table_runs_through() -> None:
    assert [STATES[name].status for name in _STATE_ORDER] == [
        WorkflowStatus.PENDING,
        RUNNING,
        RUNNING,
        WAITING,
        WAITING,
        RUNNING,
        FAILED,
        COMPLETED,
        CANCELED,
    ]
    assert STATES["completed"].context.data == {"x": 1, "ok": True, "webhook_data": {"paid": True}, "y": 2}
    timer = STATES["timer armed"].tokens[0]
    assert (timer.step, timer.status, timer.not_before) == ("t", TokenStatus.READY, NOW + timedelta(hours=1))


def test_a_completion_closes_the_task_with_who_and_what() -> None:
    change = apply_command(
        DEFINITION, STATES["waiting at task"], TaskCompleted(TASK.token_id, TASK, "ann", {"ok": 1}), NOW
    )
    closure = change.closed_tasks[0]
    assert (closure.task_id, closure.status, closure.completed_by, closure.data) == (
        TASK.id,
        TaskStatus.COMPLETED,
        "ann",
        {"ok": 1},
    )
    assert change.state.context.user_id == "ann"
    assert change.executions[-1].completed_by == "ann"


def test_a_failed_attempt_with_retries_left_stays_runnable_after_its_backoff() -> None:
    state = STATES["ready at machine step"]
    failed = _apply(state, AttemptFailed(_token(state), _ran("m", StepStatus.FAILED), 30.0))
    token = failed.tokens[0]
    assert failed.status is RUNNING
    assert (token.attempt, token.not_before) == (2, NOW + timedelta(seconds=30))


def test_cancel_closes_the_open_task_and_records_the_running_step() -> None:
    change = apply_command(DEFINITION, STATES["waiting at task"], Cancel("stop", ("t3",)), NOW)
    assert [(c.task_id, c.status) for c in change.closed_tasks] == [(TASK.id, TaskStatus.CANCELED)]
    assert change.state.cancel_reason == "stop"
    running = apply_command(DEFINITION, STATES["ready at machine step"], Cancel("stop", ("t1",)), NOW)
    assert [(e.step_name, e.status) for e in running.executions] == [("m", StepStatus.CANCELED)]


def test_retry_reopens_the_task_of_a_failed_instance_waiting_at_it() -> None:
    failed = apply_command(DEFINITION, STATES["waiting at task"], Cancel("x"), NOW).state
    failed.status = FAILED  # a task cancelled by a failure elsewhere
    change = apply_command(DEFINITION, failed, Retry(), NOW)
    assert change.state.status is WAITING
    assert [task.step_name for task in change.opened_tasks] == ["h"]


def test_scheduling_an_unknown_step_is_refused() -> None:
    with pytest.raises(InvalidTransitionError, match="no step 'nope'"):
        apply_command(DEFINITION, STATES["waiting at task"], Schedule("nope"), NOW)


def test_a_start_on_a_task_step_opens_its_task() -> None:
    definition = chain("start_human", [BaseHumanStep("h"), SetStep("b")])
    change = apply_command(definition, new_instance(definition, {}, NOW), Start(), NOW)
    assert change.state.status is WAITING
    assert [task.step_name for task in change.opened_tasks] == ["h"]
    assert [event for event, _ in change.events] == ["workflow.started", "task.created", "workflow.waiting"]


def test_a_start_whose_task_assignee_cannot_be_stored_is_refused() -> None:
    definition = chain("bad_assignee", [BaseHumanStep("h", assignee_key="who"), SetStep("b")])
    with pytest.raises(WorkflowValidationError, match="assignee"):
        apply_command(definition, new_instance(definition, {"who": "x" * 10_000}, NOW), Start(), NOW)


def test_a_timer_whose_duration_fails_fails_the_instance_on_entry() -> None:
    def broken(_: Any) -> timedelta:
        raise ValueError("no duration")

    definition: WorkflowDefinition = chain("bad_timer", [TimerStep("t", broken), SetStep("b")])
    change = apply_command(definition, new_instance(definition, {}, NOW), Start(), NOW)
    assert change.state.status is FAILED
    assert "could not compute its duration" in (change.state.error or "")


def test_every_refusal_is_a_workflows_error_and_a_stale_attempt_is_none() -> None:
    # A refusal reaches the caller (the API maps each ``WorkflowsError`` to a 4xx); a stale attempt
    # is dropped by the runtime and must never be mistaken for one.
    refusals = {expected for row in TABLE.values() for expected in row if not isinstance(expected, WorkflowStatus)}
    assert all(issubclass(refusal, WorkflowsError) for refusal in refusals - {NotCurrent})
    assert not issubclass(NotCurrent, WorkflowsError)


class _AwaitChild(StepKind):
    """What a sub-workflow kind looks like to the reducer: wait, hand over an effect, accept ``child``."""

    name = "await child"
    accepts = frozenset({CHILD})
    runs_code = False

    def enter(self, step: Any, context: Any) -> Entry:
        return Entry(waits=True, effect=("start child", step.name))


class _CallStep(SetStep):
    step_kind: ClassVar[StepKind] = _AwaitChild()


CALLING = chain("calling", [SetStep("a", "x", 1), _CallStep("call"), SetStep("b", "y", 2)])


def _waiting_for_child() -> WorkflowInstanceData:
    started = apply_command(CALLING, new_instance(CALLING, {}, NOW), Start(), NOW).state
    return apply_command(CALLING, started, AttemptSucceeded("t1", _ran("a"), Changes({"x": 1})), NOW).state


def test_a_kind_hands_its_effect_over_with_the_change_that_entered_its_step() -> None:
    started = apply_command(CALLING, new_instance(CALLING, {}, NOW), Start(), NOW).state
    change = apply_command(CALLING, started, AttemptSucceeded("t1", _ran("a"), Changes({"x": 1})), NOW)
    assert change.state.status is WAITING
    assert change.effects == [("t2", ("start child", "call"))]


def test_a_finished_child_merges_its_output_and_a_failed_one_fails_the_step() -> None:
    waiting = _waiting_for_child()
    resumed = apply_command(CALLING, waiting, ChildFinished("t2", {"from_child": 7}), NOW)
    assert resumed.state.status is RUNNING
    assert resumed.state.context.data == {"x": 1, "from_child": 7}
    assert [(e.step_name, e.status) for e in resumed.executions] == [("call", StepStatus.SUCCEEDED)]
    failed = apply_command(CALLING, waiting, ChildFinished("t2", {}, error="child exploded"), NOW)
    assert failed.state.status is FAILED
    assert "child exploded" in (failed.state.error or "")


def test_a_child_result_for_a_step_not_waiting_for_one_is_refused() -> None:
    waiting = _waiting_for_child()
    with pytest.raises(InvalidTransitionError):
        apply_command(CALLING, waiting, ChildFinished("t9", {}), NOW)
    with pytest.raises(InvalidTransitionError, match="does not accept a signal"):
        apply_command(CALLING, waiting, SignalReceived("call", None), NOW)
