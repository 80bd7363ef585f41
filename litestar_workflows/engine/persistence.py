"""The persistence boundary: every piece of engine state goes through ``WorkflowPersistence``.

The engine changes an instance only through :meth:`WorkflowPersistence.commit`, which receives
the instance's next state together with everything that happened to produce it (step
executions, tasks opened and closed). A database implementation writes all of it in one
transaction, so a crash leaves either the old state or the new one, and a restarted engine
resumes from what was committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

import msgspec

from litestar_workflows.core.access import InstanceScope, instance_in_scope
from litestar_workflows.core.context import StepExecution
from litestar_workflows.core.exceptions import (
    ConcurrentUpdateError,
    HumanTaskError,
    TaskNotFoundError,
    WorkflowInstanceNotFoundError,
)
from litestar_workflows.core.identity import Identity, can_act_on
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.task_checks import StoredTask, TaskActor, holder_change_refusal, open_task_refusal
from litestar_workflows.core.types import TaskStatus, TokenStatus, WorkflowStatus

__all__ = (
    "UNSET",
    "Checkpoint",
    "InMemoryPersistence",
    "InstanceChange",
    "InstanceQuery",
    "TaskClosure",
    "TaskQuery",
    "WorkflowPersistence",
    "next_run_at",
    "task_visible_to",
)


class _Unset:
    """Marks an argument that was not given (None is a meaningful value: "nobody")."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


@dataclass(slots=True)
class TaskClosure:
    """Close an OPEN task (complete or cancel it).

    The commit checks :meth:`refusal` against the task as stored, in its own transaction, and
    fails with that error (``TaskAlreadyCompletedError`` if the task is not OPEN; with an
    ``actor``, also ``UnauthorizedTaskError`` or ``TaskClaimedError``), changing nothing.
    """

    task_id: UUID
    status: TaskStatus
    completed_by: str | None = None
    completed_at: datetime | None = None
    data: dict[str, object] | None = None
    actor: TaskActor | None = None
    """The user completing the task, checked against the task as stored; None: not checked (the
    engine cancelling tasks, or an operator completing one in the name of ``completed_by``)."""

    def refusal(self, stored: StoredTask) -> HumanTaskError | None:
        """Why the commit must refuse this closure of ``stored`` (the task as stored now); None if it may close it."""
        return open_task_refusal(stored, self.actor)

    def claim_after(self, stored_claim: str | None) -> str | None:
        """The task's ``claimed_by`` once closed: a completion is the completer's, a cancellation keeps the claim."""
        return self.completed_by if self.status is TaskStatus.COMPLETED else stored_claim


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
    lease_owner: str | None = None
    """The committing engine. With ``lease_until`` it takes (or keeps) the instance's lease when the
    lease is free, expired or already its own; without, it releases the lease if it holds it."""
    lease_until: datetime | None = None
    now: datetime | None = None
    """The committer's clock, to judge lease expiry."""


@dataclass(slots=True)
class InstanceQuery:
    """Filters and a page for listing instances (newest first).

    ``scope`` keeps only the instances a caller may see (``core.access``; None: all of them),
    evaluated where the filtering happens, so pages and totals hold visible instances only.
    """

    workflow_name: str | None = None
    status: WorkflowStatus | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    started_by: str | _Unset | None = UNSET
    """Only instances started by this user (None: started without a recorded starter)."""
    scope: InstanceScope | None = None
    limit: int = 50
    offset: int = 0


@dataclass(slots=True)
class TaskQuery:
    """Filters and a page for listing tasks (oldest first).

    ``visible_to`` restricts the result to tasks a user may act on: assigned to them, offered to
    one of their groups, or neither assigned nor offered to anyone. ``assigned_or_claimed_by``
    keeps the tasks assigned to a user or claimed by them (the API's ``mine=true``).
    """

    status: TaskStatus | None = None
    assignee: str | None = None
    assigned_or_claimed_by: str | None = None
    candidate_group: str | None = None
    workflow_name: str | None = None
    instance_id: UUID | None = None
    visible_to: tuple[str, frozenset[str]] | None = None
    limit: int = 50
    offset: int = 0


def task_visible_to(task: HumanTaskData, user_id: str, groups: frozenset[str]) -> bool:
    """True if ``user_id`` (member of ``groups``) may see and act on ``task`` (``core.identity.can_act_on``)."""
    return can_act_on(task, Identity(user_id, groups), None)


def next_run_at(instance: WorkflowInstanceData, now: datetime) -> datetime | None:
    """When the instance next has a token to run (``now`` if one is due), or None."""
    if instance.status is not WorkflowStatus.RUNNING:
        return None
    earliest: datetime | None = None
    for token in instance.tokens:
        if token.status is TokenStatus.READY:
            due = token.not_before or now
            if earliest is None or due < earliest:
                earliest = due
    return earliest


class Checkpoint(Protocol):
    """An open database transaction in which a transactional step runs and is then recorded."""

    session: Any
    """The transaction's session (an SQLAlchemy ``AsyncSession`` for SQL persistence; None in memory)."""

    async def commit(self, change: InstanceChange) -> bool:
        """Apply ``change`` in this transaction and commit it with the step's own writes."""
        ...


@runtime_checkable
class WorkflowPersistence(Protocol):
    """Where instances, their step history and their human tasks live.

    ``commit`` is the only write: it records step executions, opens and completes human tasks
    and stores the instance's next state (tokens, due times, data) in one atomic step.
    """

    async def load_instance(self, instance_id: UUID) -> WorkflowInstanceData | None:
        """The instance with its full step history, or None."""
        ...

    async def commit(self, change: InstanceChange) -> bool:
        """Apply ``change`` atomically: instance state, executions, tasks opened and closed, lease.

        Returns True if ``change.lease_owner`` holds the instance's lease afterwards.
        """
        ...

    def transaction(self) -> AbstractAsyncContextManager[Checkpoint]:
        """Open a transaction for a transactional step; leaving it without ``commit`` rolls it back."""
        ...

    async def acquire_lease(self, instance_id: UUID, owner: str, now: datetime, until: datetime) -> bool:
        """Take the lease of one instance if it is free, expired or ``owner``'s; True if held."""
        ...

    async def renew_leases(self, owner: str, instance_ids: Sequence[UUID], until: datetime) -> None:
        """Extend the leases ``owner`` holds on these instances (a heartbeat)."""
        ...

    async def release_leases(self, owner: str, instance_ids: Sequence[UUID] | None = None) -> None:
        """Give up ``owner``'s leases (all of them when ``instance_ids`` is None)."""
        ...

    async def claim_runnable(self, owner: str, now: datetime, until: datetime, limit: int) -> list[UUID]:
        """Lease up to ``limit`` running instances that have a due token and a free or expired lease.

        This is recovery after a crash (expired leases), due timers, and work left by a stopped
        process, in one query; several engines may call it at once and never get the same instance.
        """
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

    async def query_instances(self, query: InstanceQuery) -> tuple[list[WorkflowInstanceData], int]:
        """One page of instances (newest first, without step history) and the total matching."""
        ...

    async def query_tasks(self, query: TaskQuery) -> tuple[list[HumanTaskData], int]:
        """One page of tasks (oldest first) and the total matching."""
        ...

    async def update_open_task(
        self,
        task_id: UUID,
        *,
        claimed_by: str | _Unset | None = UNSET,
        assignee: str | _Unset | None = UNSET,
        if_claimable_by: str | None = None,
        actor: TaskActor | None = None,
    ) -> HumanTaskData:
        """Change who holds an OPEN task (claim, release, reassign) in one conditional update.

        The conditions are checked against the task as stored, in the transaction that changes
        it (``core.task_checks.holder_change_refusal``). With ``if_claimable_by``, the update is
        a compare-and-set: it applies only while the task is unclaimed or claimed by that user,
        so of several users claiming at once exactly one wins. With ``actor``, that user must
        also be allowed to act on the task (``can_act_on``) and hold its claim or find it free
        (admins override claims). Raises ``TaskNotFoundError``, ``UnauthorizedTaskError``,
        ``TaskAlreadyCompletedError`` if it is no longer open, or ``TaskClaimedError`` (naming
        the holder) if someone else holds it. Returns the task as changed.
        """
        ...

    async def list_due_timers(self, until: datetime) -> list[tuple[UUID, str, datetime]]:
        """(instance id, token id, due time) of READY tokens not to run before a time <= ``until``."""
        ...

    async def ping(self) -> None:
        """Check the store answers (a trivial query); raises when it cannot be reached (the health check)."""
        ...


class _Lease(msgspec.Struct, gc=False):
    """Who holds an instance's lease (in memory), and until when; changed in place on renewal.

    Not tracked by the garbage collector: it holds a string and a datetime, and one lives per
    instance in flight (each tracked object makes the young collections that much longer).
    """

    owner: str
    until: datetime


class InMemoryPersistence:
    """Keeps everything in dicts; the default, and the reference for the contract's semantics.

    The stored objects are the engine's committed states, without defensive copies. The engine
    builds a new state for every change, except for the commonest one (a step that moves the
    single token of an instance on to the next plain step, or ends it): that one it applies to
    the stored object itself (:meth:`record_in_place`), within one synchronous stretch, so any
    reader between two awaits sees one consistent committed state. Readers that keep a state
    across an await get a copy (``LocalExecutionEngine.get_instance`` does).
    """

    __slots__ = ("_instances", "_leases", "_tasks")

    def __init__(self) -> None:
        # Instances and leases are keyed by ``UUID.int``: a UUID hashes in Python code, an int in
        # C, and the engine looks an instance up several times per step.
        self._instances: dict[int, WorkflowInstanceData] = {}
        self._tasks: dict[UUID, HumanTaskData] = {}
        self._leases: dict[int, _Lease] = {}

    async def load_instance(self, instance_id: UUID) -> WorkflowInstanceData | None:
        """The stored instance, or None."""
        return self._instances.get(instance_id.int)

    async def commit(self, change: InstanceChange) -> bool:
        """Check the preconditions first so a failed commit changes nothing."""
        instance = change.instance
        instance_id = instance.id
        key = instance_id.int
        stored = self._instances.get(key)
        if change.expected_revision == -1:
            if stored is not None:
                msg = f"instance {stored.id} already exists"
                raise ConcurrentUpdateError(msg)
        elif stored is None:
            raise WorkflowInstanceNotFoundError(instance_id)
        elif stored.revision != change.expected_revision:
            msg = f"instance {stored.id} is at revision {stored.revision}, not {change.expected_revision}"
            raise ConcurrentUpdateError(msg)
        if change.closed_tasks:
            self._close_tasks(change.closed_tasks)
        for task in change.opened_tasks:
            self._tasks[task.id] = task
        history = instance.context.step_history
        if stored is not None and history is not stored.context.step_history:
            history = instance.context.step_history = stored.context.step_history
        if change.executions:
            history.extend(change.executions)
        self._instances[key] = instance
        return self._apply_lease(change, key)

    def insert(self, instance: WorkflowInstanceData, owner: str, now: datetime, until: datetime) -> bool:
        """Store a new instance and take its lease for ``owner``; True if ``owner`` holds it.

        What :meth:`commit` does for a change creating an instance with no executions or tasks;
        raises ``ConcurrentUpdateError`` (nothing stored) if the id exists.
        """
        key = instance.id.int
        if key in self._instances:
            msg = f"instance {instance.id} already exists"
            raise ConcurrentUpdateError(msg)
        self._instances[key] = instance
        return self._take(key, owner, now, until)

    def holds(self, state: WorkflowInstanceData) -> bool:
        """True if ``state`` is the stored (latest committed) object of its instance."""
        return self._instances.get(state.id.int) is state

    def record_in_place(
        self, state: WorkflowInstanceData, execution: StepExecution, owner: str, now: datetime, until: datetime | None
    ) -> bool:
        """Record a step the engine applied to the stored ``state`` object itself; True if ``owner`` holds the lease.

        The in-memory counterpart of :meth:`commit` for a step that only moves the single token of
        an instance on (see ``LocalExecutionEngine``): the engine changed ``state`` in place, with
        no await in between, while :meth:`holds` was true, so there is nothing to check or store
        beyond the execution and the lease (``until`` None releases it, as in :meth:`commit`).
        """
        state.context.step_history.append(execution)
        if until is not None:
            lease = self._leases.get(state.id.int)
            if lease is not None and lease.owner == owner:
                lease.until = until  # the usual renewal, without ``_take``'s calls
                return True
        return self._keep_or_release(state.id.int, owner, now, until)

    def _close_tasks(self, closures: list[TaskClosure]) -> None:
        """Close tasks, all or none: every one must exist and pass its closure's check.

        Checks and writes run without an ``await`` in between: nothing changes a task between
        its check and its closing.
        """
        for closure in closures:
            task = self._tasks.get(closure.task_id)
            if task is None:
                msg = f"task {closure.task_id} not found"
                raise TaskNotFoundError(msg)
            refusal = closure.refusal(task)
            if refusal is not None:
                raise refusal
        for closure in closures:
            task = self._tasks[closure.task_id]
            self._tasks[closure.task_id] = msgspec.structs.replace(
                task,
                status=closure.status,
                claimed_by=closure.claim_after(task.claimed_by),
                completed_by=closure.completed_by,
                completed_at=closure.completed_at,
                data=closure.data,
            )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Checkpoint]:
        """No real transaction in memory: the checkpoint commits like :meth:`commit`."""
        yield _MemoryCheckpoint(self)

    def _apply_lease(self, change: InstanceChange, key: int) -> bool:
        owner = change.lease_owner
        if owner is None:
            return False
        until = change.lease_until
        return self._keep_or_release(key, owner, change.now or until, until)

    def _keep_or_release(self, key: int, owner: str, now: datetime | None, until: datetime | None) -> bool:
        """Take or keep ``owner``'s lease until ``until``, or release it (``until`` None); True if held.

        ``key``: the instance's ``UUID.int``.
        """
        if until is None:
            lease = self._leases.get(key)
            if lease is not None and lease.owner == owner:
                del self._leases[key]
            return False
        return self._take(key, owner, now or until, until)

    def _take(self, key: int, owner: str, now: datetime, until: datetime) -> bool:
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
        """Running instances with a due token whose lease is free or expired (or ``owner``'s)."""
        claimed: list[UUID] = []
        for instance in self._instances.values():
            if len(claimed) >= limit:
                break
            due = next_run_at(instance, now)
            if due is not None and due <= now and self._take(instance.id.int, owner, now, until):
                claimed.append(instance.id)
        return claimed

    def lease_of(self, instance_id: UUID) -> tuple[str, datetime] | None:
        """(owner, expiry) of the instance's lease, or None (in-memory only; for tests)."""
        lease = self._leases.get(instance_id.int)
        return None if lease is None else (lease.owner, lease.until)

    async def get_task(self, task_id: UUID) -> HumanTaskData | None:
        """One task, or None."""
        return self._tasks.get(task_id)

    async def query_instances(self, query: InstanceQuery) -> tuple[list[WorkflowInstanceData], int]:
        """Filter, newest first, then slice."""
        after, before, scope = query.started_after, query.started_before, query.scope
        matching = [
            instance
            for instance in reversed(self._instances.values())
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
                instance for instance in matching if instance_in_scope(scope, instance, tasks_of.get(instance.id, ()))
            ]
        return matching[query.offset : query.offset + query.limit], len(matching)

    async def query_tasks(self, query: TaskQuery) -> tuple[list[HumanTaskData], int]:
        """Filter in creation order, then slice."""
        matching = [
            task
            for task in self._tasks.values()
            if (query.status is None or task.status is query.status)
            and (query.assignee is None or task.assignee == query.assignee)
            and (query.assigned_or_claimed_by in {None, task.assignee, task.claimed_by})
            and (query.candidate_group is None or query.candidate_group in task.candidate_groups)
            and (query.workflow_name is None or task.workflow_name == query.workflow_name)
            and (query.instance_id is None or task.instance_id == query.instance_id)
            and (query.visible_to is None or task_visible_to(task, *query.visible_to))
        ]
        return matching[query.offset : query.offset + query.limit], len(matching)

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

    async def ping(self) -> None:
        """Memory always answers."""

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


class _MemoryCheckpoint:
    __slots__ = ("_persistence", "session")

    def __init__(self, persistence: InMemoryPersistence) -> None:
        self._persistence = persistence
        self.session: Any = None

    async def commit(self, change: InstanceChange) -> bool:
        return await self._persistence.commit(change)
