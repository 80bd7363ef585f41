"""The persistence boundary: every piece of engine state goes through ``WorkflowPersistence``.

The engine changes instances only through :meth:`WorkflowPersistence.commit`, which receives an
instance's next state together with everything that happened to produce it (step executions,
tasks opened and closed), and possibly changes of other instances that must happen with it
(``InstanceChange.linked``). A database implementation writes all of it in one transaction, so
a crash leaves either the old states or the new ones, and a restarted engine resumes from what
was committed. Opening, closing and the health check are part of the contract too, so callers
(the engine, the plugin) treat every implementation alike. ``InMemoryPersistence``
(``engine.memory``) and ``SQLAlchemyPersistence`` (``db``) implement it; the contract suite
(``tests/contract``) runs the same tests against each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable
from uuid import UUID

from litestar_workflows.core.context import StepExecution
from litestar_workflows.core.exceptions import (
    ConcurrentUpdateError,
    HumanTaskError,
    TaskNotFoundError,
    WorkflowInstanceNotFoundError,
)
from litestar_workflows.core.identity import Identity, can_act_on
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.task_checks import StoredTask, TaskActor, open_task_refusal
from litestar_workflows.core.types import TaskStatus, TokenStatus, WorkflowStatus
from litestar_workflows.engine.queries import UNSET, InstanceQuery, TaskQuery, _Unset

if TYPE_CHECKING:
    from litestar_workflows.engine.registry import WorkflowRegistry

__all__ = (
    "UNSET",
    "Checkpoint",
    "InstanceChange",
    "InstanceQuery",
    "TaskClosure",
    "TaskQuery",
    "WorkflowPersistence",
    "commit_refusal",
    "next_run_at",
    "task_visible_to",
)


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
    """One atomic change of one instance, and of the instances linked to it.

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
    linked: list[InstanceChange] = field(default_factory=list)
    """Changes of other instances committed in the same transaction, all or nothing (a parent
    creating a child, a child's last change resuming its parent, a cancel reaching children).

    Every member (this change, its linked changes and theirs) is checked like a change of its
    own (revision, creation, task closures); if any is refused, none is written and the commit
    raises that member's refusal. Members must concern distinct instances (``ValueError``)."""
    lease_held: bool = False
    """Set by a successful commit: whether ``lease_owner`` holds this instance's lease afterwards
    (for this change, what ``commit`` returns; for a linked one, the only way to learn it)."""
    flush: bool = True
    """True: ``commit`` returns only once the change is on disk (it survives a power failure),
    because the engine acknowledges it to someone: the caller of a start, a completion, a signal,
    a cancel; a ``wait_for``; a person who sees a new task. False: machine progress that nobody
    has been told of yet (a step's result leading to the next machine step). Such a commit must
    survive the process being killed, but may wait on disk for the next flushed commit, which
    makes it durable too: a database's log is one sequence. See docs/concepts.md, "Durability"."""
    answer_when_recorded: bool = False
    """The committer asks ``commit`` to return once the change is recorded (written: it survives
    the process being killed, and other readers see it), before it is flushed, so that it can
    run the instance's next step while the disk works; it answers its own caller only after
    awaiting ``flushed``. A persistence that returns before the flush sets ``flushed``; one
    that flushes within ``commit`` (or never flushes separately) ignores the request."""
    status_before: WorkflowStatus | None = None
    """The instance's status at ``expected_revision`` (as the committer read it), if known. Since the
    commit is refused unless the stored revision is that one, a persistence may leave the status
    column alone when it does not change (SQLite rewrites the index entries of every column an
    UPDATE sets, changed or not)."""
    flushed: Awaitable[None] | None = None
    """Set by a ``commit`` that returned before flushing a change that must be on disk: done once
    it is on disk; raises what a failed flush raised (``DatabaseUnavailableError``). None: the
    change was as durable as ``flush`` asks when ``commit`` returned."""

    def members(self) -> list[InstanceChange]:
        """This change and every change linked to it (depth first); ``ValueError`` if two concern one instance."""
        if not self.linked:
            return [self]
        members: list[InstanceChange] = []
        seen: set[UUID] = set()
        pending = [self]
        while pending:
            change = pending.pop()
            if change.instance.id in seen:  # also ends a cycle of links
                msg = "the changes of one commit (a change and its linked changes) must concern distinct instances"
                raise ValueError(msg)
            seen.add(change.instance.id)
            members.append(change)
            pending.extend(reversed(change.linked))
        return members


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


_Task = TypeVar("_Task", bound=StoredTask)


def commit_refusal(
    change: InstanceChange,
    stored_revision: int | None,
    tasks: Mapping[UUID, _Task],
    closing: dict[UUID, _Task],
    closed: Callable[[_Task, TaskClosure], _Task],
) -> Exception | None:
    """Why a commit must refuse ``change`` (one member); None if it may write it. Every persistence asks this.

    ``stored_revision``: the instance's revision as stored now (None: not stored). ``tasks``: the
    stored tasks; ``closing``: tasks as earlier members of the same commit leave them, completed
    here with what ``closed(task, closure)`` makes of each task ``change`` closes.
    """
    expected = change.expected_revision
    if expected == -1:
        if stored_revision is not None:
            return ConcurrentUpdateError(f"instance {change.instance.id} already exists")
    elif stored_revision is None:
        return WorkflowInstanceNotFoundError(change.instance.id)
    elif stored_revision != expected:
        return ConcurrentUpdateError(f"instance {change.instance.id} is at revision {stored_revision}, not {expected}")
    for closure in change.closed_tasks:
        task = closing.get(closure.task_id) or tasks.get(closure.task_id)
        if task is None:
            return TaskNotFoundError(f"task {closure.task_id} not found")
        refusal = closure.refusal(task)
        if refusal is not None:
            return refusal
        closing[closure.task_id] = closed(task, closure)
    return None


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

    ``commit`` is the only write of instance state: it records step executions, opens and closes
    human tasks and stores the next state of one instance, and of the instances linked to it, in
    one atomic step. Besides it: leases (which engine advances an instance), the holders of open
    tasks (claims), reads and paged queries, and the store's own life (open, close, ping).
    Every method may be called without ``open`` (the store then gets ready on first use).
    """

    # --- the store's life -----------------------------------------------------------------------

    async def open(self, registry: WorkflowRegistry) -> None:
        """Get ready to serve an engine running ``registry``'s workflows.

        Checks the store answers (``DatabaseUnavailableError`` when it cannot be reached), creates
        its tables when configured to and checks they are complete (``SchemaNotReadyError``), and
        records the registered definitions, refusing one changed under a recorded version
        (``DefinitionChangedError``). Safe when several processes open one store at once; may be
        called again after :meth:`close`.
        """
        ...

    async def close(self) -> None:
        """Finish the writes under way, then release connections and threads (open again to reuse)."""
        ...

    async def ping(self) -> None:
        """Check the store answers (a trivial query); raises when it cannot be reached (the health check)."""
        ...

    def known_instances(self) -> Sequence[WorkflowInstanceData]:
        """The instances this store can hand out without waiting: every one in memory, none in a database.

        For synchronous accessors (``get_all_instances``); the committed objects themselves, not copies.
        """
        ...

    # --- the one write --------------------------------------------------------------------------

    async def commit(self, change: InstanceChange) -> bool:
        """Apply ``change`` and its linked changes atomically: states, executions, tasks, leases.

        Raises the refusal of the first member refused (``ConcurrentUpdateError``,
        ``WorkflowInstanceNotFoundError``, ``TaskNotFoundError``, a ``TaskClosure.refusal``), or
        ``ChangeRefusedError`` when the database refuses to store it, having written nothing.
        Returns True if ``change.lease_owner`` holds the instance's lease afterwards (every
        member's own answer is in its ``lease_held``).
        """
        ...

    def transaction(self) -> AbstractAsyncContextManager[Checkpoint]:
        """Open a transaction for a transactional step; leaving it without ``commit`` rolls it back."""
        ...

    # --- leases ---------------------------------------------------------------------------------

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
        """Lease up to ``limit`` running instances that have a due token and a lease free, expired or ``owner``'s.

        The earliest due are taken first; the list is in no particular order. This is recovery
        after a crash (expired leases), due timers, and work left by a stopped process, in one
        query; several engines may call it at once and never get the same instance.
        """
        ...

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

    # --- reads ----------------------------------------------------------------------------------

    async def load_instance(self, instance_id: UUID) -> WorkflowInstanceData | None:
        """The instance with its full step history, or None."""
        ...

    async def get_task(self, task_id: UUID) -> HumanTaskData | None:
        """One task, or None."""
        ...

    async def load_task_with_instance(self, task_id: UUID) -> tuple[HumanTaskData, WorkflowInstanceData | None] | None:
        """One task and its instance (with its full step history) read together, or None if no such task.

        What completing a task reads before its commit: one read, not two one after the other.
        """
        ...

    async def list_tasks(
        self, *, instance_id: UUID | None = None, status: TaskStatus | None = None
    ) -> list[HumanTaskData]:
        """Tasks, oldest first, optionally of one instance and/or in one status."""
        ...

    async def list_instances(
        self,
        *,
        workflow_name: str | None = None,
        status: WorkflowStatus | None = None,
        parent_id: UUID | None = None,
    ) -> list[WorkflowInstanceData]:
        """Instances, oldest first, optionally of one workflow, in one status and/or children of ``parent_id``.

        Without step history (load an instance for it).
        """
        ...

    async def query_instances(self, query: InstanceQuery) -> tuple[list[WorkflowInstanceData], int]:
        """One page of instances and the total matching (also past the end).

        Newest first by ``started_at``, ties by greater id first (one order from page to page);
        without step history.
        """
        ...

    async def query_tasks(self, query: TaskQuery) -> tuple[list[HumanTaskData], int]:
        """One page of tasks and the total matching (also past the end); oldest first by ``created_at``, ties by id."""
        ...

    async def list_due_timers(self, until: datetime) -> list[tuple[UUID, str, datetime]]:
        """(instance id, token id, due time) of READY tokens not to run before a time <= ``until``."""
        ...
