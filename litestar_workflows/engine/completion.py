"""Completing human tasks (the engine calls, by task id or by step), and what a start or a completion answers.

The answers are as their commit left them, so callers need not read them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import msgspec

from litestar_workflows.core.exceptions import (
    InvalidTransitionError,
    TaskAlreadyCompletedError,
    TaskNotFoundError,
    UnauthorizedTaskError,
    WorkflowAlreadyCompletedError,
    WorkflowInstanceNotFoundError,
)
from litestar_workflows.core.forms import accepted_form_data
from litestar_workflows.core.identity import Identity
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.task_checks import TaskActor, open_task_refusal
from litestar_workflows.core.types import TaskStatus
from litestar_workflows.engine.commands import TaskCompleted
from litestar_workflows.engine.draft import Transition
from litestar_workflows.engine.persistence import TaskClosure
from litestar_workflows.engine.runtime import InstanceRuntime, definition_missing, snapshot

__all__ = ("TaskCompletion", "TaskCompletions", "WorkflowStart", "closed_task")


@dataclass(frozen=True, slots=True)
class TaskCompletion:
    """The result of ``LocalExecutionEngine.complete_task_detailed``.

    ``task`` is the task as the commit closed it (status, ``completed_by``, ``completed_at``,
    the accepted form data, and ``claimed_by``: the completer); ``instance`` the instance's
    committed state right after the completion. Both are copies the caller may keep or change.
    """

    task: HumanTaskData
    instance: WorkflowInstanceData


@dataclass(frozen=True, slots=True)
class WorkflowStart:
    """The result of ``LocalExecutionEngine.start_workflow_detailed``.

    ``instance`` is the instance as the start committed it; ``opened_tasks`` the human tasks that
    commit opened (those of a first step that is a human task), in the order they were opened;
    ``children`` the sub-workflow instances it started (those of a first step that is a
    ``SubWorkflowStep``), in the order ``list_instances(parent_id=...)`` lists them. Copies the
    caller may keep or change.
    """

    instance: WorkflowInstanceData
    opened_tasks: list[HumanTaskData]
    children: list[WorkflowInstanceData] = field(default_factory=list)

    @classmethod
    def committed(cls, transition: Transition) -> WorkflowStart:
        """What the committed start ``transition`` answers, taken from it: nothing is read back."""
        state = transition.state
        # The start's own children; theirs (a child whose first step starts one) hang below them.
        started = [linked.transition.state for linked in transition.linked if linked.previous is None]
        children = sorted(
            (child for child in started if child.parent_id == state.id), key=lambda child: (child.started_at, child.id)
        )
        return cls(
            snapshot(state),
            [task.detached() for task in transition.opened_tasks],
            [snapshot(child) for child in children],
        )


def closed_task(task: HumanTaskData, closure: TaskClosure) -> HumanTaskData:
    """``task`` (as read before the commit) with what the committed ``closure`` wrote to it; a detached copy.

    The commit checked the closure against the stored task and changed only these fields, so the
    result is the stored task, except for its assignee or groups if they changed (in a way that
    still let the completer act) between the read and the commit.
    """
    return msgspec.structs.replace(
        task,
        status=closure.status,
        claimed_by=closure.claim_after(task.claimed_by),
        completed_by=closure.completed_by,
        completed_at=closure.completed_at,
        data=closure.data,
    ).detached()


class TaskCompletions(InstanceRuntime):
    """Completing a task, checked in the commit that closes it (a base of ``LocalExecutionEngine``)."""

    admin_role: str | None

    async def complete_human_task(
        self, instance_id: UUID, step_name: str, user_id: Identity | str, data: dict[str, Any]
    ) -> WorkflowInstanceData:
        """Complete the open task of ``step_name``: check, validate, merge, record who, continue.

        ``user_id`` is the actor, as for :meth:`complete_task` (0.3's parameter name, kept).
        """
        state = await self._load_fresh(instance_id)
        definition = self._definition_of(state)
        if step_name not in definition.steps:
            raise InvalidTransitionError(f"workflow {state.workflow_name!r} has no step {step_name!r}")
        token = next((t for t in state.tokens if t.step == step_name and t.task_id is not None), None)
        if token is None:
            await self._raise_not_waiting(state, step_name)
        assert token is not None and token.task_id is not None
        task = await self.persistence.get_task(token.task_id)
        if task is None:
            raise TaskNotFoundError(f"task of step {step_name!r} not found")
        return (await self._complete(task, user_id, data, state)).instance

    async def complete_task(self, task_id: UUID, actor: Identity | str, data: dict[str, Any]) -> WorkflowInstanceData:
        """Complete a task by its id: check, validate, merge, record who, continue; returns the instance.

        ``actor`` is who completes it. An :class:`Identity` is checked in the commit that closes
        the task, against the task as stored: it must be allowed to act on the task
        (``core.identity.can_act_on`` with the engine's ``admin_role``), and the task must be
        open and unclaimed or claimed by it (admins may complete a task someone else claimed).
        Refusals raise ``UnauthorizedTaskError``, ``TaskAlreadyCompletedError`` or
        ``TaskClaimedError`` (naming the holder), and change nothing.

        A plain user id (``str``) is a trusted operator call (host code, the CLI): that user is
        recorded as the completer without the permission rule or the claim being checked; the
        task must still be open.
        """
        return (await self.complete_task_detailed(task_id, actor, data)).instance

    async def complete_task_detailed(
        self, task_id: UUID, actor: Identity | str, data: dict[str, Any]
    ) -> TaskCompletion:
        """:meth:`complete_task`, answering with the task as closed as well as the instance.

        Reads the task once, with its instance: the early answers (not found, refused) come from
        that read, the final ones from the commit's own check; nothing is read again afterwards.
        """
        found = await self.persistence.load_task_with_instance(task_id)
        if found is None:
            raise TaskNotFoundError(f"task {task_id} not found")
        task, state = found
        if state is None:  # the task outlived its instance: not a state any store keeps
            raise WorkflowInstanceNotFoundError(task.instance_id)
        return await self._complete(task, actor, data, state)

    async def _raise_not_waiting(self, state: WorkflowInstanceData, step_name: str) -> None:
        done = [t for t in await self.persistence.list_tasks(instance_id=state.id) if t.step_name == step_name]
        if done:
            raise TaskAlreadyCompletedError(
                f"the task of step {step_name!r} is already {done[-1].status.value} (instance {state.status.value})"
            )
        if state.status.is_finished:
            raise WorkflowAlreadyCompletedError(f"instance {state.id} is {state.status.value}")
        waiting = [t.step for t in state.tokens if t.task_id is not None]
        raise InvalidTransitionError(
            f"instance {state.id} is not waiting at step {step_name!r} (waiting at: {waiting or 'nothing'})"
        )

    async def _complete(
        self,
        task: HumanTaskData,
        actor: Identity | str,
        data: dict[str, Any],
        state: WorkflowInstanceData | None = None,
    ) -> TaskCompletion:
        checked = None if isinstance(actor, str) else TaskActor(actor, self.admin_role)
        # The early answer, on the task as read (before validating a form the user may not fill
        # in); the commit checks the same against the task as stored.
        refusal = open_task_refusal(task, checked)
        if refusal is not None:
            raise refusal
        user_id = actor if isinstance(actor, str) else actor.user_id
        if user_id is None:  # can_act_on refuses anonymous callers; this only narrows the type
            raise UnauthorizedTaskError(f"an anonymous caller may not act on task {task.id}")
        if state is None:
            state = await self._load_fresh(task.instance_id)
        if state.status.is_finished:
            # ``task`` may have been read before someone else completed it and the instance ran to
            # its end: then the task's own fate is the answer, as for every other late completion.
            current = await self.persistence.get_task(task.id)
            if current is not None and current.status is not TaskStatus.OPEN:
                raise TaskAlreadyCompletedError(f"task {task.id} is already {current.status.value}")
            raise WorkflowAlreadyCompletedError(f"instance {state.id} is {state.status.value}")
        definition = self._definition_of(state)
        step = definition.steps.get(task.step_name)
        if step is None:
            raise definition_missing(self.registry, state, task.step_name)
        accepted = accepted_form_data(step, data)

        command = TaskCompleted(task.token_id, task, user_id, accepted, checked)
        transition = await self._transact(task.instance_id, command, loaded=state)
        assert transition is not None
        await self._after_commit(transition, previous=state)
        return TaskCompletion(closed_task(task, transition.closed_tasks[0]), snapshot(transition.state))
