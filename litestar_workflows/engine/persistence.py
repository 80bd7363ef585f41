"""The persistence boundary: every piece of engine state goes through ``WorkflowPersistence``.

The engine changes an instance only through :meth:`WorkflowPersistence.commit`, which receives
the instance's next state together with everything that happened to produce it (step
executions, tasks opened and closed). A database implementation writes all of it in one
transaction, so a crash leaves either the old state or the new one, and a restarted engine
resumes from what was committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

from litestar_workflows.core.context import StepExecution
from litestar_workflows.core.exceptions import (
    ConcurrentUpdateError,
    TaskAlreadyCompletedError,
    TaskNotFoundError,
    WorkflowInstanceNotFoundError,
)
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.types import TaskStatus, TokenStatus, WorkflowStatus

__all__ = ("InMemoryPersistence", "InstanceChange", "TaskClosure", "WorkflowPersistence")


@dataclass(slots=True)
class TaskClosure:
    """Close an OPEN task; the commit fails with ``TaskAlreadyCompletedError`` if it is not OPEN."""

    task_id: UUID
    status: TaskStatus
    completed_by: str | None = None
    completed_at: datetime | None = None
    data: dict[str, object] | None = None


@dataclass(slots=True)
class InstanceChange:
    """One atomic change of one instance.

    ``instance`` is the next state, with ``revision`` one above ``expected_revision``; the commit
    fails with ``ConcurrentUpdateError`` if the stored revision is not ``expected_revision``.
    ``expected_revision == -1`` creates the instance (and fails if it exists).
    After a successful commit, ``instance.context.step_history`` includes ``executions``.
    """

    instance: WorkflowInstanceData
    expected_revision: int
    executions: list[StepExecution] = field(default_factory=list)
    opened_tasks: list[HumanTaskData] = field(default_factory=list)
    closed_tasks: list[TaskClosure] = field(default_factory=list)


@runtime_checkable
class WorkflowPersistence(Protocol):
    """Where instances, their step history and their human tasks live.

    ``commit`` is the only write: it records step executions, opens and completes human tasks
    and stores the instance's next state (tokens, due times, data) in one atomic step.
    """

    async def load_instance(self, instance_id: UUID) -> WorkflowInstanceData | None:
        """The instance with its full step history, or None."""
        ...

    async def commit(self, change: InstanceChange) -> None:
        """Apply ``change`` atomically: instance state, executions, tasks opened and closed."""
        ...

    async def get_task(self, task_id: UUID) -> HumanTaskData | None:
        """One task, or None."""
        ...

    async def list_tasks(
        self, *, instance_id: UUID | None = None, status: TaskStatus | None = None
    ) -> list[HumanTaskData]:
        """Tasks, oldest first, optionally of one instance and/or in one status."""
        ...

    async def list_instances(
        self, *, workflow_name: str | None = None, status: WorkflowStatus | None = None
    ) -> list[WorkflowInstanceData]:
        """Instances, oldest first, optionally of one workflow and/or in one status."""
        ...

    async def instances_to_resume(self) -> list[UUID]:
        """Instances with runnable work (READY tokens, due or not): what recovery must dispatch."""
        ...

    async def list_due_timers(self, until: datetime) -> list[tuple[UUID, str, datetime]]:
        """(instance id, token id, due time) of READY tokens not to run before a time <= ``until``."""
        ...


class InMemoryPersistence:
    """Keeps everything in dicts; the default, and the reference for the contract's semantics.

    The stored objects are the engine's committed states; the engine never mutates a state
    after committing it (it builds a new one), so no defensive copies are needed here.
    """

    __slots__ = ("_instances", "_tasks")

    def __init__(self) -> None:
        self._instances: dict[UUID, WorkflowInstanceData] = {}
        self._tasks: dict[UUID, HumanTaskData] = {}

    async def load_instance(self, instance_id: UUID) -> WorkflowInstanceData | None:
        """The stored instance, or None."""
        return self._instances.get(instance_id)

    async def commit(self, change: InstanceChange) -> None:
        """Check the preconditions first so a failed commit changes nothing."""
        stored = self._instances.get(change.instance.id)
        if change.expected_revision == -1:
            if stored is not None:
                msg = f"instance {stored.id} already exists"
                raise ConcurrentUpdateError(msg)
        elif stored is None:
            raise WorkflowInstanceNotFoundError(change.instance.id)
        elif stored.revision != change.expected_revision:
            msg = f"instance {stored.id} is at revision {stored.revision}, not {change.expected_revision}"
            raise ConcurrentUpdateError(msg)
        for closure in change.closed_tasks:
            task = self._tasks.get(closure.task_id)
            if task is None:
                msg = f"task {closure.task_id} not found"
                raise TaskNotFoundError(msg)
            if task.status is not TaskStatus.OPEN:
                msg = f"task {closure.task_id} is already {task.status.value}"
                raise TaskAlreadyCompletedError(msg)
        for closure in change.closed_tasks:
            task = self._tasks[closure.task_id]
            self._tasks[closure.task_id] = replace(
                task,
                status=closure.status,
                completed_by=closure.completed_by,
                completed_at=closure.completed_at,
                data=closure.data,
            )
        for task in change.opened_tasks:
            self._tasks[task.id] = task
        if stored is not None and change.instance.context.step_history is not stored.context.step_history:
            change.instance.context.step_history = stored.context.step_history
        change.instance.context.step_history.extend(change.executions)
        self._instances[change.instance.id] = change.instance

    async def get_task(self, task_id: UUID) -> HumanTaskData | None:
        """One task, or None."""
        return self._tasks.get(task_id)

    async def list_tasks(
        self, *, instance_id: UUID | None = None, status: TaskStatus | None = None
    ) -> list[HumanTaskData]:
        """Tasks in creation order."""
        return [
            task
            for task in self._tasks.values()
            if (instance_id is None or task.instance_id == instance_id) and (status is None or task.status is status)
        ]

    async def list_instances(
        self, *, workflow_name: str | None = None, status: WorkflowStatus | None = None
    ) -> list[WorkflowInstanceData]:
        """Instances in creation order."""
        return [
            instance
            for instance in self._instances.values()
            if (workflow_name is None or instance.workflow_name == workflow_name)
            and (status is None or instance.status is status)
        ]

    async def instances_to_resume(self) -> list[UUID]:
        """Running instances holding a READY token."""
        return [
            instance.id
            for instance in self._instances.values()
            if instance.status is WorkflowStatus.RUNNING
            and any(token.status is TokenStatus.READY for token in instance.tokens)
        ]

    async def list_due_timers(self, until: datetime) -> list[tuple[UUID, str, datetime]]:
        """READY tokens with a stored time not after ``until``."""
        return sorted(
            (
                (instance.id, token.id, token.not_before)
                for instance in self._instances.values()
                if instance.status is WorkflowStatus.RUNNING
                for token in instance.tokens
                if token.status is TokenStatus.READY and token.not_before is not None and token.not_before <= until
            ),
            key=lambda item: item[2],
        )

    def all_instances(self) -> Sequence[WorkflowInstanceData]:
        """Every stored instance (in-memory only; used by the engine's synchronous accessors)."""
        return list(self._instances.values())
