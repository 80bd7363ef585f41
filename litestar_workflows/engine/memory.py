"""``InMemoryPersistence``: the whole contract in dicts, for tests, demos and the default engine.

It is the reference for the contract's semantics (the contract suite runs the same tests on it
and on the SQL persistence), and nothing of it is special to its callers: the engine and the
plugin use it through ``WorkflowPersistence`` like any other store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec

from litestar_workflows.core.access import instance_in_scope
from litestar_workflows.core.exceptions import TaskNotFoundError
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.task_checks import TaskActor, holder_change_refusal
from litestar_workflows.core.types import TaskStatus, TokenStatus, WorkflowStatus
from litestar_workflows.engine.persistence import (
    Checkpoint,
    InstanceChange,
    TaskClosure,
    commit_refusal,
    next_run_at,
    task_visible_to,
)
from litestar_workflows.engine.queries import UNSET, InstanceQuery, TaskQuery, _Unset

if TYPE_CHECKING:
    from litestar_workflows.engine.registry import WorkflowRegistry

__all__ = ("InMemoryPersistence",)


class _Lease(msgspec.Struct, gc=False):
    """Who holds an instance's lease (in memory), and until when; changed in place on renewal.

    Not tracked by the garbage collector: it holds a string and a datetime, and one lives per
    instance in flight (each tracked object makes the young collections that much longer).
    """

    owner: str
    until: datetime


class InMemoryPersistence:
    """Keeps everything in dicts; the default, and the reference for the contract's semantics.

    The stored objects are the engine's committed states, without defensive copies: the engine
    builds a new state for every change, and readers that keep a state across an await get a
    copy (``LocalExecutionEngine.get_instance`` does). Every commit checks all its preconditions
    before it writes anything, with no ``await`` in between, so it is atomic on the event loop.
    """

    __slots__ = ("_instances", "_leases", "_tasks")

    def __init__(self) -> None:
        # Instances and leases are keyed by ``UUID.int``: a UUID hashes in Python code, an int in
        # C, and the engine looks an instance up several times per step.
        self._instances: dict[int, WorkflowInstanceData] = {}
        self._tasks: dict[UUID, HumanTaskData] = {}
        self._leases: dict[int, _Lease] = {}

    # --- the store's life -----------------------------------------------------------------------

    async def open(self, registry: WorkflowRegistry) -> None:
        """Nothing to reach or create: memory is ready (definitions live in the registry alone)."""

    async def close(self) -> None:
        """Nothing to release; what is stored stays (the same object may be opened again)."""

    async def ping(self) -> None:
        """Memory always answers."""

    def known_instances(self) -> Sequence[WorkflowInstanceData]:
        """Every stored instance, oldest first (the committed objects)."""
        return list(self._instances.values())

    # --- the one write --------------------------------------------------------------------------

    async def commit(self, change: InstanceChange) -> bool:
        """Check every member's preconditions first, then write them all: a refused commit changes nothing."""
        closing: dict[UUID, HumanTaskData] = {}
        if not change.linked:  # the usual commit: one instance
            refusal = self._refusal(change, closing)
            if refusal is not None:
                raise refusal
            return self._write(change, closing)
        members = change.members()
        for member in members:
            refusal = self._refusal(member, closing)
            if refusal is not None:
                raise refusal
        for member in members:
            self._write(member, closing)
        return change.lease_held

    def _refusal(self, change: InstanceChange, closing: dict[UUID, HumanTaskData]) -> Exception | None:
        """Why ``change`` may not be written now; None if it may.

        ``closing``: tasks as earlier members of the same commit leave them (filled in here).
        """
        stored = self._instances.get(change.instance.id.int)
        return commit_refusal(change, None if stored is None else stored.revision, self._tasks, closing, _closed)

    def _write(self, change: InstanceChange, closing: dict[UUID, HumanTaskData]) -> bool:
        """Store ``change`` (its preconditions hold); True if its committer holds the lease afterwards.

        ``closing``: the tasks its closures close, as ``_refusal`` left them.
        """
        for closure in change.closed_tasks:
            self._tasks[closure.task_id] = closing[closure.task_id]
        for task in change.opened_tasks:
            self._tasks[task.id] = task
        instance = change.instance
        key = instance.id.int
        stored = self._instances.get(key)
        history = instance.context.step_history
        if stored is not None and history is not stored.context.step_history:
            # The stored history list is the instance's whole history: keep it, append to it.
            history = instance.context.step_history = stored.context.step_history
        if change.executions:
            history.extend(change.executions)
        self._instances[key] = instance
        held = change.lease_held = self._apply_lease(change, key)
        return held

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Checkpoint]:
        """No real transaction in memory: the checkpoint commits like :meth:`commit`."""
        yield _MemoryCheckpoint(self)

    # --- leases ---------------------------------------------------------------------------------

    def _apply_lease(self, change: InstanceChange, key: int) -> bool:
        owner = change.lease_owner
        if owner is None:
            return False
        until = change.lease_until
        if until is None:
            lease = self._leases.get(key)
            if lease is not None and lease.owner == owner:
                del self._leases[key]
            return False
        return self._take(key, owner, change.now or until, until)

    def _take(self, key: int, owner: str, now: datetime, until: datetime) -> bool:
        """Take or keep ``owner``'s lease of the instance with ``UUID.int`` ``key``; True if held."""
        lease = self._leases.get(key)
        if lease is None:
            self._leases[key] = _Lease(owner, until)
            return True
        if lease.owner == owner or lease.until < now:
            lease.owner = owner  # changed in place: one lookup per commit
            lease.until = until
            return True
        return False

    async def acquire_lease(self, instance_id: UUID, owner: str, now: datetime, until: datetime) -> bool:
        """Take the lease if free, expired or already ``owner``'s."""
        key = instance_id.int
        if key not in self._instances:
            return False
        return self._take(key, owner, now, until)

    async def renew_leases(self, owner: str, instance_ids: Sequence[UUID], until: datetime) -> None:
        """Extend ``owner``'s leases."""
        for instance_id in instance_ids:
            lease = self._leases.get(instance_id.int)
            if lease is not None and lease.owner == owner:
                lease.until = until

    async def release_leases(self, owner: str, instance_ids: Sequence[UUID] | None = None) -> None:
        """Drop ``owner``'s leases."""
        keys = list(self._leases) if instance_ids is None else [instance_id.int for instance_id in instance_ids]
        for key in keys:
            lease = self._leases.get(key)
            if lease is not None and lease.owner == owner:
                del self._leases[key]

    async def claim_runnable(self, owner: str, now: datetime, until: datetime, limit: int) -> list[UUID]:
        """Running instances with a due token whose lease is free or expired (or ``owner``'s), earliest due first."""
        due = sorted(
            (when, number, instance.id)
            for number, instance in enumerate(self._instances.values())
            if (when := next_run_at(instance, now)) is not None and when <= now
        )
        claimed: list[UUID] = []
        for _, _, instance_id in due:
            if len(claimed) >= limit:
                break
            if self._take(instance_id.int, owner, now, until):
                claimed.append(instance_id)
        return claimed

    def lease_of(self, instance_id: UUID) -> tuple[str, datetime] | None:
        """(owner, expiry) of the instance's lease, or None (for tests)."""
        lease = self._leases.get(instance_id.int)
        return None if lease is None else (lease.owner, lease.until)

    # --- who holds an open task -----------------------------------------------------------------

    async def update_open_task(
        self,
        task_id: UUID,
        *,
        claimed_by: str | _Unset | None = UNSET,
        assignee: str | _Unset | None = UNSET,
        if_claimable_by: str | None = None,
        actor: TaskActor | None = None,
    ) -> HumanTaskData:
        """Replace the task with the changed holder fields, if its conditions hold.

        Check and write happen without an ``await`` between them, so they are atomic on the loop.
        """
        task = self._tasks.get(task_id)
        if task is None:
            msg = f"task {task_id} not found"
            raise TaskNotFoundError(msg)
        refusal = holder_change_refusal(task, actor, if_claimable_by)
        if refusal is not None:
            raise refusal
        changed = msgspec.structs.replace(
            task,
            claimed_by=task.claimed_by if isinstance(claimed_by, _Unset) else claimed_by,
            assignee=task.assignee if isinstance(assignee, _Unset) else assignee,
        )
        self._tasks[task_id] = changed
        return changed

    # --- reads ----------------------------------------------------------------------------------

    async def load_instance(self, instance_id: UUID) -> WorkflowInstanceData | None:
        """The stored instance, or None."""
        return self._instances.get(instance_id.int)

    async def get_task(self, task_id: UUID) -> HumanTaskData | None:
        """One task, or None."""
        return self._tasks.get(task_id)

    async def load_task_with_instance(self, task_id: UUID) -> tuple[HumanTaskData, WorkflowInstanceData | None] | None:
        """One task and its instance, or None if no such task."""
        task = self._tasks.get(task_id)
        return None if task is None else (task, self._instances.get(task.instance_id.int))

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
        self,
        *,
        workflow_name: str | None = None,
        status: WorkflowStatus | None = None,
        parent_id: UUID | None = None,
    ) -> list[WorkflowInstanceData]:
        """Instances in creation order."""
        return [
            instance
            for instance in self._instances.values()
            if (workflow_name is None or instance.workflow_name == workflow_name)
            and (status is None or instance.status is status)
            and (parent_id is None or instance.parent_id == parent_id)
        ]

    async def query_instances(self, query: InstanceQuery) -> tuple[list[WorkflowInstanceData], int]:
        """Filter, newest first (ties: greater id first), then slice."""
        after, before, scope = query.started_after, query.started_before, query.scope
        matching = [
            instance
            for instance in sorted(self._instances.values(), key=_started_and_id, reverse=True)
            if (query.workflow_name is None or instance.workflow_name == query.workflow_name)
            and (query.status is None or instance.status is query.status)
            and (after is None or (instance.started_at is not None and instance.started_at > after))
            and (before is None or (instance.started_at is not None and instance.started_at < before))
            and (isinstance(query.started_by, _Unset) or instance.started_by == query.started_by)
        ]
        if scope is not None and not scope.everything:
            tasks_of: dict[UUID, list[HumanTaskData]] = {}
            for task in self._tasks.values():
                tasks_of.setdefault(task.instance_id, []).append(task)
            matching = [
                instance
                for instance in matching
                if instance_in_scope(
                    scope, instance, tasks_of.get(instance.id, ()), self._ancestors(instance, tasks_of)
                )
            ]
        return matching[query.offset : query.offset + query.limit], len(matching)

    def _ancestors(
        self, instance: WorkflowInstanceData, tasks_of: dict[UUID, list[HumanTaskData]]
    ) -> list[tuple[WorkflowInstanceData, list[HumanTaskData]]]:
        """``instance``'s parent, its parent and so on, each with its tasks (for ``instance_in_scope``)."""
        found: list[tuple[WorkflowInstanceData, list[HumanTaskData]]] = []
        parent_id = instance.parent_id
        while parent_id is not None and (parent := self._instances.get(parent_id.int)) is not None:
            found.append((parent, tasks_of.get(parent.id, [])))
            parent_id = parent.parent_id
        return found

    async def query_tasks(self, query: TaskQuery) -> tuple[list[HumanTaskData], int]:
        """Filter, oldest first (ties: smaller id first), then slice."""
        matching = [
            task
            for task in sorted(self._tasks.values(), key=_created_and_id)
            if (query.status is None or task.status is query.status)
            and (query.assignee is None or task.assignee == query.assignee)
            and (query.assigned_or_claimed_by in {None, task.assignee, task.claimed_by})
            and (query.candidate_group is None or query.candidate_group in task.candidate_groups)
            and (query.workflow_name is None or task.workflow_name == query.workflow_name)
            and (query.instance_id is None or task.instance_id == query.instance_id)
            and (query.visible_to is None or task_visible_to(task, *query.visible_to))
        ]
        return matching[query.offset : query.offset + query.limit], len(matching)

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


_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _started_and_id(instance: WorkflowInstanceData) -> tuple[datetime, UUID]:
    """The order of paged instance queries (as the SQL persistence sorts them)."""
    return instance.started_at or _EARLIEST, instance.id


def _created_and_id(task: HumanTaskData) -> tuple[datetime, UUID]:
    """The order of paged task queries (as the SQL persistence sorts them)."""
    return task.created_at or _EARLIEST, task.id


def _closed(task: HumanTaskData, closure: TaskClosure) -> HumanTaskData:
    """``task`` as ``closure`` leaves it."""
    return msgspec.structs.replace(
        task,
        status=closure.status,
        claimed_by=closure.claim_after(task.claimed_by),
        completed_by=closure.completed_by,
        completed_at=closure.completed_at,
        data=closure.data,
    )


class _MemoryCheckpoint:
    __slots__ = ("_persistence", "session")

    def __init__(self, persistence: InMemoryPersistence) -> None:
        self._persistence = persistence
        self.session: Any = None

    async def commit(self, change: InstanceChange) -> bool:
        return await self._persistence.commit(change)
