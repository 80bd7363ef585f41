"""What must hold of a task, as stored, for a user to claim, release or complete it.

A persistence evaluates these checks in the very transaction that changes the task (and, for a
completion, advances its instance), against the task row it reads under that transaction's
lock. Nothing a concurrent request commits between a check and its write can then slip past
the check: the task's permission rule, its state and its claim are all decided by the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from litestar_workflows.core.exceptions import (
    HumanTaskError,
    TaskAlreadyCompletedError,
    TaskClaimedError,
    UnauthorizedTaskError,
)
from litestar_workflows.core.identity import Identity, TaskHolders, can_act_on, is_admin
from litestar_workflows.core.types import TaskStatus

__all__ = ("StoredTask", "TaskActor", "holder_change_refusal", "open_task_refusal")


class StoredTask(TaskHolders, Protocol):
    """The fields of a stored task the checks read (a ``HumanTaskData`` has them all)."""

    @property
    def id(self) -> UUID:
        """The task's id (named in refusals)."""
        ...

    @property
    def status(self) -> TaskStatus:
        """Open, completed or canceled."""
        ...

    @property
    def claimed_by(self) -> str | None:
        """Who holds the task's claim, if anyone."""
        ...


@dataclass(frozen=True, slots=True)
class TaskActor:
    """A user acting on a task, and the admin role that lets its members act on any task."""

    identity: Identity
    admin_role: str | None = None

    @property
    def is_admin(self) -> bool:
        """True if the user holds the admin role."""
        return is_admin(self.identity, self.admin_role)

    def refusal(self, task: StoredTask) -> HumanTaskError | None:
        """Why this user may not claim, release or complete ``task`` now; None if they may.

        The permission rule (``can_act_on``) comes first, so a user who may not act on the task
        learns nothing about it (not its state, not who claimed it). Then the task must be open,
        and its claim free or the user's own; admins may override someone else's claim.
        """
        identity = self.identity
        if not can_act_on(task, identity, self.admin_role):
            return UnauthorizedTaskError(f"user {identity.user_id!r} may not act on task {task.id}")
        if task.status is not TaskStatus.OPEN:
            return TaskAlreadyCompletedError(f"task {task.id} is already {task.status.value}")
        if task.claimed_by is not None and task.claimed_by != identity.user_id and not self.is_admin:
            return TaskClaimedError(task.id, task.claimed_by)
        return None


def open_task_refusal(task: StoredTask, actor: TaskActor | None) -> HumanTaskError | None:
    """Why ``task`` may not be closed (completed or canceled) now; None if it may.

    ``actor`` None: a trusted caller (the engine cancelling a task, an operator completing one as
    a named user): only the task's state is checked, not who acts or who holds the claim.
    """
    if actor is not None:
        return actor.refusal(task)
    if task.status is not TaskStatus.OPEN:
        return TaskAlreadyCompletedError(f"task {task.id} is already {task.status.value}")
    return None


def holder_change_refusal(
    task: StoredTask, actor: TaskActor | None, if_claimable_by: str | None
) -> HumanTaskError | None:
    """Why the claim or assignee of ``task`` may not be changed now; None if it may.

    ``actor``: the user claiming or releasing, checked as for a completion. ``if_claimable_by``:
    the change applies only while the task is unclaimed or claimed by that user (compare-and-set).
    """
    refusal = open_task_refusal(task, actor)
    if refusal is None and if_claimable_by is not None and task.claimed_by not in {None, if_claimable_by}:
        refusal = TaskClaimedError(task.id, task.claimed_by)
    return refusal
