"""What the engine does for a ``SubWorkflowStep``: start a child, resume its parent, cancel it with its parent.

Every effect is a linked change (``InstanceChange.linked``), so it commits with the change that
causes it, all or nothing:

- a token reaching the step: the parent's token waits (``Token.child_id``) and the child instance
  is created, in one commit. Until that commit the token is READY, so a crash before it starts
  the child again on recovery, and a crash after it finds the token waiting: never two children;
- the child's last change (completed, failed, cancelled) resumes the parent in the child's own
  commit: the declared output is merged and the branch moves on, or the step's attempt fails
  (retried with a new child while retries are left). A kill -9 between the child's end and the
  parent's resume cannot happen: there is no between;
- a cancelled or failed instance cancels its unfinished children (and theirs) in its own commit,
  as it cancels its open tasks; retrying a failed parent starts its children anew, as it opens
  its tasks again.

The transitions of the other instances ride on the causing one (``Transition.linked``, with the
state each was built from); ``publish_linked`` dispatches their new work after the commit. These
are the engine's only hooks for the kind (``_run_one``, the commit sites, ``_prepare_change`` and
``_after_commit`` call in here), kept apart so the kind can move onto the kernel's step-kind slot.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from litestar_workflows.core.context import StepExecution
from litestar_workflows.core.exceptions import ChangeRefusedError, WorkflowsError
from litestar_workflows.core.models import Token, WorkflowInstanceData
from litestar_workflows.core.types import StepStatus, TokenStatus, WorkflowStatus
from litestar_workflows.core.values import storable_text
from litestar_workflows.engine.failures import log_failed_attempt, log_failed_instance
from litestar_workflows.engine.transitions import Changes, Linked, Transition, new_instance, step_context, view_of
from litestar_workflows.steps.subworkflow import SubWorkflowStep

if TYPE_CHECKING:
    from litestar_workflows.engine.engine import LocalExecutionEngine

__all__ = ("ends_instance", "link_family", "publish_linked", "start_child")


_ENDINGS = frozenset({"workflow.completed", "workflow.failed", "workflow.canceled"})


def ends_instance(transition: Transition) -> bool:
    """True if ``transition`` completes, fails or cancels its instance (then its family may be linked in)."""
    return transition.state.status.is_finished and any(event in _ENDINGS for event, _ in transition.events)


class _NotStarted(WorkflowsError):
    """The child could not be started (no such workflow, input not built or refused): a failed attempt."""


def _child_of(engine: LocalExecutionEngine, step: SubWorkflowStep, parent: Transition, token: Token) -> Transition:
    """The child's start (a new instance, its first tokens placed), linked to ``parent``'s ``token``."""
    from litestar_workflows.engine.engine import _checked_start_data

    state, now = parent.state, parent.now
    try:
        definition = engine.registry.get_definition(step.workflow, step.version)  # the version is fixed here
        data = _checked_start_data(
            definition, step.child_input(step_context(state, token, view_of(state, token))), None, None
        )
        child = new_instance(definition, data, now)
        child.parent_id, child.parent_token, child.started_by = state.id, token.id, state.started_by
        started = Transition(definition, child, now, fresh=True)
        started.start()
    except Exception as exc:  # the step's input function, or a start refused: a failed attempt
        raise _NotStarted(f"the sub-workflow could not be started: {exc}") from exc
    if started.state.status.is_finished:  # it could not even begin (a timer whose duration failed)
        raise _NotStarted(f"the sub-workflow failed as it started: {started.state.error}")
    return started


async def start_child(
    engine: LocalExecutionEngine, state: WorkflowInstanceData, token: Token, step: SubWorkflowStep
) -> None:
    """Run ``token``'s sub-workflow step: its token waits and the child is created, in one commit.

    A child that cannot be started, or stored, is a failed attempt of the step, retried like any other.
    """
    token_id = token.id

    def apply(transition: Transition) -> bool:
        live = transition.token(token_id)
        if transition.state.status is not WorkflowStatus.RUNNING or live is None:
            return False
        if live.status is not TokenStatus.READY:
            return False
        started = _child_of(engine, step, transition, live)
        live.status, live.child_id, live.not_before = TokenStatus.WAITING, started.state.id, None
        transition.linked.append(Linked(started, None))
        transition._settle()  # WAITING when no other branch runs; the kernel will own this
        return True

    try:
        transition = await engine._transact(state.id, apply, loaded=state)
    except (_NotStarted, ChangeRefusedError) as exc:
        transition = await _record_not_started(engine, state, token, step, str(exc))
    if transition is not None:
        await engine._after_commit(transition, previous=state)


async def _record_not_started(
    engine: LocalExecutionEngine, state: WorkflowInstanceData, token: Token, step: SubWorkflowStep, error: str
) -> Transition | None:
    """Record a failed attempt of ``token``'s step (retried after its backoff while it has retries, else the end)."""
    from litestar_workflows.engine.engine import _Outcome, _retry_in

    now = engine._clock()
    error = storable_text(error)
    execution = StepExecution(token.step, StepStatus.FAILED, None, error, now, now, None, None, token.attempt)
    retry_in = _retry_in(step, token)
    names = (state.id, state.workflow_name, state.workflow_version, token.step, token.attempt, error)
    if retry_in is None:
        log_failed_instance(*names, "")
    else:
        log_failed_attempt(*names, retry_in)
    return await engine._record_outcome(state.id, token.id, _Outcome(execution, retry_in=retry_in), step, token)


async def link_family(engine: LocalExecutionEngine, transition: Transition) -> None:
    """Link to ``transition`` (which ends its instance) what must commit with it: children cancelled, parent resumed."""
    state = transition.state
    if state.status is WorkflowStatus.CANCELED or state.status is WorkflowStatus.FAILED:
        await _cancel_children(engine, transition)
    if state.parent_id is not None:
        await _resume_parent(engine, transition)


async def _cancel_children(engine: LocalExecutionEngine, transition: Transition) -> None:
    """Cancel the unfinished children of ``transition``'s (cancelled or failed) instance, and theirs, with it."""
    state = transition.state
    if state.status is WorkflowStatus.CANCELED:
        reason = f"its parent {state.id} was cancelled: {state.cancel_reason}"
    else:
        reason = f"its parent {state.id} failed"
    for token in state.tokens:
        if token.child_id is None:
            continue
        child = await engine.persistence.load_instance(token.child_id)
        if child is None or child.status in {WorkflowStatus.COMPLETED, WorkflowStatus.CANCELED}:
            continue
        record = engine._runtime.get(child.id.int)
        running = list(record.running) if record is not None else []
        cancelled = Transition(engine._definition_of(child), child, transition.now)
        cancelled.cancel(reason, running)
        await _cancel_children(engine, cancelled)
        transition.linked.append(Linked(cancelled, child))


async def _resume_parent(engine: LocalExecutionEngine, transition: Transition) -> None:
    """Resume the parent waiting for ``transition``'s (ended) instance: merge its output, or fail the step.

    Nothing is linked when the parent no longer waits for this child (it was cancelled or failed
    meanwhile, or retried with a new child): then the child's end concerns nobody.
    """
    from litestar_workflows.engine.engine import _retry_in

    child = transition.state
    assert child.parent_id is not None
    parent = await engine.persistence.load_instance(child.parent_id)  # fresh: a cached state may be stale
    if parent is None or parent.status.is_finished:
        return
    waiting = [t for t in parent.tokens if t.child_id == child.id and t.status is TokenStatus.WAITING]
    if not waiting:
        return
    definition = engine._definition_of(parent)
    resumed = Transition(definition, parent, transition.now)
    token = resumed.token(waiting[0].id)
    step = definition.steps.get(waiting[0].step)
    assert token is not None and isinstance(step, SubWorkflowStep)
    token.child_id = None
    if child.status is WorkflowStatus.COMPLETED:
        output = step.child_output(child.context.data)
        finished_at = transition.now
        execution = StepExecution(
            token.step, StepStatus.SUCCEEDED, output, None, child.started_at, finished_at, None, output, token.attempt
        )
        resumed.step_succeeded(token, Changes(set=output), execution, None)
    else:
        error = storable_text(f"sub-workflow {child.workflow_name!r} ({child.id}) {child.status.value}: {child.error}")
        execution = StepExecution(
            token.step, StepStatus.FAILED, None, error, child.started_at, transition.now, None, None, token.attempt
        )
        token.status = TokenStatus.READY
        resumed.step_failed(token, execution, _retry_in(step, token))
    if ends_instance(resumed):
        await link_family(engine, resumed)
    transition.linked.append(Linked(resumed, parent))


def publish_linked(engine: LocalExecutionEngine, transition: Transition) -> None:
    """After the commit: this engine's view of the linked instances (lease, cache, waiters), and their new work."""
    for linked in transition.linked:
        state = linked.transition.state
        assert linked.change is not None
        held = linked.change.lease_held
        record = engine._record(state.id) if held else engine._runtime.get(state.id.int)
        if record is not None:
            record.leased = held
            if state.status is WorkflowStatus.CANCELED:  # stop its running steps, as cancel_workflow does
                current = asyncio.current_task()
                for task in record.running.values():
                    if task is not current:
                        task.cancel()
            engine._settle_record(state, record)
        if state.status is WorkflowStatus.RUNNING:
            engine._dispatch_new_work(state, linked.previous, None, held)
        publish_linked(engine, linked.transition)


def linked_events(transition: Transition) -> list[tuple[WorkflowInstanceData, list[tuple[str, dict[str, object]]]]]:
    """The events of every instance linked to ``transition`` (depth first), to emit after the commit."""
    found: list[tuple[WorkflowInstanceData, list[tuple[str, dict[str, object]]]]] = []
    for linked in transition.linked:
        found.append((linked.transition.state, linked.transition.events))
        found.extend(linked_events(linked.transition))
    return found
