"""The one state machine: ``apply_command(definition, state, command, now)``.

Every event that changes an instance is a command (``engine.commands``). This module owns both
the legality of each command in each state (otherwise: which error) and its effect, and yields
the :class:`~litestar_workflows.engine.draft.Transition` whose ``to_change`` is committed as one
atomic ``InstanceChange``. Pure: no I/O, no clock, no engine. docs/concepts.md ("Inside the
engine") has the state x command table this module implements.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from litestar_workflows.core.context import StepExecution, WorkflowContext
from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import (
    InvalidTransitionError,
    TaskAlreadyCompletedError,
    WorkflowAlreadyCompletedError,
)
from litestar_workflows.core.ids import time_ordered_uuid
from litestar_workflows.core.models import Token, WorkflowInstanceData
from litestar_workflows.core.types import StepStatus, TaskStatus, TokenStatus, WorkflowStatus
from litestar_workflows.engine.branches import Changes
from litestar_workflows.engine.commands import (
    MACHINE_PROGRESS,
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
    TokenCommand,
)
from litestar_workflows.engine.draft import Transition
from litestar_workflows.engine.persistence import TaskClosure

__all__ = ("apply_command", "new_instance")

_C = TypeVar("_C")


def apply_command(
    definition: WorkflowDefinition, committed: WorkflowInstanceData, command: Command, now: datetime
) -> Transition:
    """The change ``command`` makes to ``committed`` (left untouched), or the error saying why it may not.

    Raises ``NotCurrent`` for a step attempt whose token is no longer runnable (nothing to commit),
    and a ``WorkflowsError`` (``InvalidTransitionError``, ``WorkflowAlreadyCompletedError``,
    ``TaskAlreadyCompletedError``) for a command the instance's state refuses. A never committed
    instance (``new_instance``, revision -1) is used as is, not copied.
    """
    handler = _HANDLERS[type(command)]
    draft = Transition(definition, committed, now, fresh=committed.revision < 0)
    draft.acknowledged = not isinstance(command, MACHINE_PROGRESS)
    handler(draft, command)
    return draft


def new_instance(
    definition: WorkflowDefinition, data: dict[str, Any], now: datetime, instance_id: UUID | None = None
) -> WorkflowInstanceData:
    """A PENDING instance of ``definition`` holding ``data``, with no tokens yet (revision -1)."""
    identifier = instance_id or time_ordered_uuid()
    name, version, initial = definition.name, definition.version, definition.initial_step
    metadata = {"workflow_name": name, "workflow_version": version}
    context = WorkflowContext(identifier, identifier, dict(data), metadata, initial, [], now)
    return WorkflowInstanceData(
        identifier, name, version, WorkflowStatus.PENDING, context, initial, None, now, None, [], (), -1
    )


# --- legality ---------------------------------------------------------------------------------


def _runnable(draft: Transition, command: TokenCommand) -> Token:
    """The READY token a step attempt (or a due timer) ran for; ``NotCurrent`` if it is gone."""
    token = draft.token(command.token_id)
    if draft.state.status is not WorkflowStatus.RUNNING or token is None or token.status is not TokenStatus.READY:
        raise NotCurrent(f"token {command.token_id} of instance {draft.state.id} is no longer runnable")
    _accepting(draft, token, command.event)
    return token


def _accepting(draft: Transition, token: Token, event: str) -> None:
    kind = draft.graph.kinds[token.step]
    if event not in kind.accepts:
        raise InvalidTransitionError(f"step {token.step!r} ({kind.name}) does not accept a {event}")


def _unfinished(draft: Transition) -> None:
    state = draft.state
    if state.status.is_finished:
        raise WorkflowAlreadyCompletedError(f"instance {state.id} is {state.status.value}")


# --- handlers ---------------------------------------------------------------------------------


def _start(draft: Transition, command: Start) -> None:
    state = draft.state
    if state.status is not WorkflowStatus.PENDING or state.tokens:
        raise InvalidTransitionError(f"instance {state.id} has started already")
    initial = draft.definition.initial_step
    draft.enter(draft.new_token(initial, Token("", initial), ()))
    draft.settle()
    draft.events.insert(0, ("workflow.started", {"workflow_name": state.workflow_name}))


def _succeeded(draft: Transition, command: AttemptSucceeded) -> None:
    draft.move_on(_runnable(draft, command), command.changes, command.execution, None)


def _chose(draft: Transition, command: GatewayChose) -> None:
    draft.move_on(_runnable(draft, command), command.changes, command.execution, list(command.branches))


def _failed(draft: Transition, command: AttemptFailed) -> None:
    token = _runnable(draft, command)
    execution = command.execution
    draft.executions.append(execution)
    draft.events.append(
        ("step.failed", {"step_name": token.step, "attempt": execution.attempt, "error": execution.error})
    )
    token.attempt += 1
    if command.retry_in is None:
        draft.fail(f"step {token.step!r} failed after {execution.attempt} attempt(s): {execution.error}")
        return
    token.not_before = draft.now + timedelta(seconds=command.retry_in) if command.retry_in > 0 else None
    draft.settle()


def _fatal(draft: Transition, command: AttemptFatal) -> None:
    _runnable(draft, command)
    draft.executions.append(command.execution)
    draft.fail(command.error)


def _timer_due(draft: Transition, command: TimerDue) -> None:
    token = _runnable(draft, command)
    now = draft.now
    execution = StepExecution(token.step, StepStatus.SUCCEEDED, started_at=now, completed_at=now, attempt=token.attempt)
    draft.move_on(token, Changes(), execution, None)


def _task_completed(draft: Transition, command: TaskCompleted) -> None:
    task, user_id, accepted = command.task, command.user_id, command.accepted
    token = draft.token(command.token_id)
    if token is None or token.task_id != task.id:
        raise TaskAlreadyCompletedError(f"task {task.id} is no longer open")
    _unfinished(draft)
    _accepting(draft, token, command.event)
    draft.closed_tasks.append(TaskClosure(task.id, TaskStatus.COMPLETED, user_id, draft.now, accepted, command.actor))
    draft.events.append(("task.completed", {"task_id": str(task.id), "step_name": task.step_name, "user_id": user_id}))
    execution = StepExecution(
        step_name=token.step,
        status=StepStatus.SUCCEEDED,
        result=accepted,
        started_at=task.created_at,
        completed_at=draft.now,
        output_data=accepted,
        attempt=token.attempt,
        completed_by=user_id,
    )
    token.task_id = None
    draft.state.context.user_id = user_id
    draft.move_on(token, Changes(set=dict(accepted)), execution, None)


def _signal(draft: Transition, command: SignalReceived) -> None:
    _unfinished(draft)
    name = command.step_name
    token = next((t for t in draft.state.tokens if t.step == name and t.status is TokenStatus.WAITING), None)
    if token is None:
        raise InvalidTransitionError(f"instance {draft.state.id} is not waiting for a signal at {name!r}")
    _accepting(draft, token, command.event)
    writes = draft.graph.kinds[name].received(draft.definition.steps[name], command.payload)
    now = draft.now
    execution = StepExecution(
        name, StepStatus.SUCCEEDED, result=command.payload, started_at=now, completed_at=now, attempt=token.attempt
    )
    draft.move_on(token, Changes(set=writes), execution, None)


def _child_finished(draft: Transition, command: ChildFinished) -> None:
    _unfinished(draft)
    token = draft.token(command.token_id)
    if token is None or token.status is not TokenStatus.WAITING:
        raise InvalidTransitionError(f"instance {draft.state.id} has no step waiting for a child as {command.token_id}")
    _accepting(draft, token, command.event)
    now = draft.now
    if command.error is not None:
        draft.executions.append(
            StepExecution(token.step, StepStatus.FAILED, error=command.error, started_at=now, completed_at=now)
        )
        draft.fail(f"step {token.step!r}: the child instance failed: {command.error}")
        return
    output = dict(command.output)
    execution = StepExecution(token.step, StepStatus.SUCCEEDED, result=output, started_at=now, completed_at=now)
    draft.move_on(token, Changes(set=output), execution, None)


def _cancel(draft: Transition, command: Cancel) -> None:
    state, now = draft.state, draft.now
    # A FAILED instance may still be cancelled: that is how an operator abandons it.
    if state.status is WorkflowStatus.COMPLETED or state.status is WorkflowStatus.CANCELED:
        raise WorkflowAlreadyCompletedError(
            f"instance {state.id} is already {state.status.value}; it cannot be cancelled"
        )
    for token in state.tokens:
        if token.id in command.running:
            canceled = StepExecution(
                token.step,
                StepStatus.CANCELED,
                error=f"canceled: {command.reason}",
                started_at=now,
                completed_at=now,
                attempt=token.attempt,
            )
            draft.executions.append(canceled)
    state.status = WorkflowStatus.CANCELED
    state.cancel_reason = command.reason
    state.error = f"Canceled: {command.reason}"
    state.completed_at = now
    draft.close_open_tasks()
    draft.events.append(("workflow.canceled", {"reason": command.reason}))


def _retry(draft: Transition, command: Retry) -> None:
    state = draft.state
    if state.status is not WorkflowStatus.FAILED:
        raise InvalidTransitionError(f"only failed instances can be retried; {state.id} is {state.status.value}")
    state.status = WorkflowStatus.RUNNING
    state.error = None
    state.completed_at = None
    waiting = [token for token in state.tokens if token.status is TokenStatus.WAITING]
    for token in state.tokens:
        if token.status is TokenStatus.READY:
            token.not_before = None
            token.retry_base = token.attempt  # a manual retry grants the step its retries again
    for token in waiting:
        state.tokens.remove(token)
        draft.activate(token)  # a task step opens its task again
    draft.events.append(("workflow.retried", {}))
    draft.settle()


def _schedule(draft: Transition, command: Schedule) -> None:
    _unfinished(draft)
    if command.step not in draft.definition.steps:
        raise InvalidTransitionError(f"workflow {draft.state.workflow_name!r} has no step {command.step!r}")
    token = draft.new_token(command.step, Token("", command.step), ())
    draft.activate(token)
    if command.not_before is not None and token.status is TokenStatus.READY:
        token.not_before = command.not_before
    draft.events.append(("step.scheduled", {"step_name": command.step}))
    draft.settle()


def _handler(function: Callable[[Transition, _C], None]) -> Callable[[Transition, Any], None]:
    return function


_HANDLERS: dict[type[Any], Callable[[Transition, Any], None]] = {
    Start: _handler(_start),
    AttemptSucceeded: _handler(_succeeded),
    GatewayChose: _handler(_chose),
    AttemptFailed: _handler(_failed),
    AttemptFatal: _handler(_fatal),
    TimerDue: _handler(_timer_due),
    TaskCompleted: _handler(_task_completed),
    SignalReceived: _handler(_signal),
    ChildFinished: _handler(_child_finished),
    Cancel: _handler(_cancel),
    Retry: _handler(_retry),
    Schedule: _handler(_schedule),
}
"""One handler per command type: its legality checks, then its effect on the draft."""
