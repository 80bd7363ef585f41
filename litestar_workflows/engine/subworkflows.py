"""What the engine carries out for a ``SubWorkflowStep``: a child started, its parent resumed, children cancelled.

The step's kind (``steps.subworkflow``) makes a token entering the step wait, with an effect: a
child to start. Everything the kind needs done is a linked change (``InstanceChange.linked``)
of the commit that causes it, all or nothing, and each is the reducer's own command applied to
the other instance (``transitions.apply_command``):

- a token entering the step: the child instance is created (``Start``) in the commit that makes
  the token wait (``Token.child_id``): never a waiting token without its child, nor two children;
- the child's last change (completed, failed, cancelled) resumes the parent (``ChildFinished``:
  the declared output is merged and the branch moves on, or the parent fails) in the child's own
  commit. A kill -9 between the child's end and the parent's resume cannot happen: there is no
  between;
- a cancelled or failed instance cancels its unfinished children, and theirs (``Cancel``), in its
  own commit, as it cancels its open tasks; retrying a failed parent starts its children anew.

The kernel names none of this: importing this module registers, with ``engine.effects``, the
handler of the kind's effect (``steps.subworkflow.START_CHILD``) and an ending hook, which the runtime calls
before each commit that needs them (``InstanceRuntime._commit``) and publishes after it like any
linked change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from litestar_workflows.core.models import Token, WorkflowInstanceData
from litestar_workflows.core.types import TokenStatus, WorkflowStatus
from litestar_workflows.core.values import storable_text
from litestar_workflows.engine.branches import step_context, view_of
from litestar_workflows.engine.commands import Cancel, ChildFinished, Start
from litestar_workflows.engine.draft import Linked, Transition
from litestar_workflows.engine.effects import carry_out, register_effect, register_ending, run_effects
from litestar_workflows.engine.transitions import apply_command, new_instance
from litestar_workflows.steps.subworkflow import StartChild, SubWorkflowStep

if TYPE_CHECKING:
    from litestar_workflows.engine.runtime import InstanceRuntime

__all__ = ("end_family", "start_child")


async def start_child(engine: InstanceRuntime, transition: Transition, token_id: str, effect: Any) -> None:
    """The handler of ``START_CHILD``: start the child of ``token_id``'s step with ``transition``'s commit."""
    if transition.state.status is not WorkflowStatus.FAILED:  # an instance that failed starts no more children
        await _start_child(engine, transition, token_id)


async def end_family(engine: InstanceRuntime, transition: Transition, source: UUID | None) -> None:
    """The ending hook: an ended instance cancels its unfinished children (cancelled, failed), and resumes its parent.

    ``source``: the child whose end this transition records (it is in the commit already).
    """
    state = transition.state
    if state.status is WorkflowStatus.CANCELED or state.status is WorkflowStatus.FAILED:
        await _cancel_children(engine, transition, source)
    if state.parent_id is not None:
        await _resume_parent(engine, transition)


async def _start_child(engine: InstanceRuntime, parent: Transition, token_id: str) -> None:
    """Create the child of ``token_id``'s step with ``parent``'s commit; one that cannot start fails the parent."""
    from litestar_workflows.engine.engine import _checked_start_data

    token = parent.token(token_id)
    assert token is not None
    step = parent.definition.steps[token.step]
    assert isinstance(step, SubWorkflowStep)
    state, now = parent.state, parent.now
    try:
        definition = engine.registry.get_definition(step.workflow, step.version)  # the version is fixed here
        context = step_context(state, token, view_of(state, token))
        child = new_instance(definition, _checked_start_data(definition, step.child_input(context), None, None), now)
        child.parent_id, child.parent_token, child.started_by = state.id, token.id, state.started_by
        started = apply_command(definition, child, Start(), now)
    except Exception as exc:  # noqa: BLE001 - the step's input function, or a start refused: the step fails
        parent.fail(storable_text(f"step {token.step!r}: the sub-workflow could not be started: {exc}"))
        return
    if started.state.status.is_finished:  # it could not even begin (a timer whose duration failed)
        parent.fail(storable_text(f"step {token.step!r}: the sub-workflow failed as it started: {started.state.error}"))
        return
    await run_effects(engine, started)  # the child's first steps' effects (a child of its own) join the commit
    if started.state.status is WorkflowStatus.FAILED:  # its own child could not start
        parent.fail(storable_text(f"step {token.step!r}: the sub-workflow failed as it started: {started.state.error}"))
        return
    token.child_id = child.id
    parent.linked.append(Linked(started, None))


async def _cancel_children(engine: InstanceRuntime, transition: Transition, ended: UUID | None = None) -> None:
    """Cancel the unfinished children of ``transition``'s (cancelled or failed) instance, and theirs, with it."""
    state = transition.state
    if state.status is WorkflowStatus.CANCELED:
        reason = f"its parent {state.id} was cancelled: {state.cancel_reason}"
    else:
        reason = f"its parent {state.id} failed"
    linked = {member.transition.state.id for member in transition.linked}
    for token in state.tokens:
        if token.child_id is None or token.child_id in linked or token.child_id == ended:
            continue
        child = await engine.persistence.load_instance(token.child_id)
        if child is None or child.status in {WorkflowStatus.COMPLETED, WorkflowStatus.CANCELED}:
            continue
        record = engine._runtime.get(child.id.int)
        running = tuple(record.running) if record is not None else ()
        cancelled = apply_command(engine._definition_of(child), child, Cancel(reason, running), transition.now)
        await _cancel_children(engine, cancelled)
        transition.linked.append(Linked(cancelled, child))


async def _resume_parent(engine: InstanceRuntime, transition: Transition) -> None:
    """Resume the parent waiting for ``transition``'s (ended) instance: merge its output, or fail it.

    Nothing is linked when the parent no longer waits for this child (it was cancelled or failed
    meanwhile, or retried with a new child): then the child's end concerns nobody.
    """
    child = transition.state
    assert child.parent_id is not None
    parent = await engine.persistence.load_instance(child.parent_id)  # fresh: a cached state may be stale
    if parent is None or parent.status.is_finished:
        return
    waiting = _waiting_for(parent, child)
    if waiting is None:
        return
    definition = engine._definition_of(parent)
    step = definition.steps[waiting.step]
    assert isinstance(step, SubWorkflowStep)
    if child.status is WorkflowStatus.COMPLETED:
        command = ChildFinished(waiting.id, step.child_output(child.context.data))
    else:
        error = f"sub-workflow {child.workflow_name!r} ({child.id}) {child.status.value}: {child.error}"
        command = ChildFinished(waiting.id, {}, storable_text(error))
    resumed = apply_command(definition, parent, command, transition.now)
    await carry_out(engine, resumed, child.id)
    transition.linked.append(Linked(resumed, parent))


def _waiting_for(parent: WorkflowInstanceData, child: WorkflowInstanceData) -> Token | None:
    for token in parent.tokens:
        if token.child_id == child.id and token.status is TokenStatus.WAITING:
            return token
    return None


register_effect(StartChild, start_child)
register_ending(end_family)
