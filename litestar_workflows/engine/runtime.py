"""The instance runtime: per-instance records (cache, lock), commit with retry on conflict, after-commit.

Every change of an instance goes through :meth:`InstanceRuntime._transact`: take the instance's
lock, apply the command to the committed state (cached, or loaded) with the reducer, commit; on
a concurrent update by another writer, reload and apply again. Every commit, there and elsewhere
(a start, a transactional step), goes through :meth:`InstanceRuntime._commit`, which first has
the step kinds carry out what must commit with the transition (``engine.effects``). After the
commit, :meth:`_after_commit` caches the new state (or forgets it), wakes ``wait_for`` callers,
publishes the events and dispatches the tokens that became runnable, for the transition and for
the changes of other instances linked to it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import (
    ConcurrentUpdateError,
    DefinitionMissingError,
    WorkflowInstanceNotFoundError,
    WorkflowNotFoundError,
)
from litestar_workflows.core.models import WorkflowInstanceData
from litestar_workflows.core.types import TokenStatus, WorkflowStatus
from litestar_workflows.engine.commands import Command, NotCurrent
from litestar_workflows.engine.dispatch import StepDispatcher
from litestar_workflows.engine.draft import Transition
from litestar_workflows.engine.effects import carry_out
from litestar_workflows.engine.events import EventBus
from litestar_workflows.engine.persistence import Checkpoint, InstanceChange, WorkflowPersistence
from litestar_workflows.engine.records import InstanceRecord
from litestar_workflows.engine.registry import WorkflowRegistry
from litestar_workflows.engine.roles import RoleRules
from litestar_workflows.engine.transitions import apply_command

__all__ = ("MAX_COMMIT_ATTEMPTS", "InstanceRuntime", "definition_missing", "settled", "snapshot")

logger = logging.getLogger("litestar_workflows.engine")

MAX_COMMIT_ATTEMPTS = 20


def snapshot(state: WorkflowInstanceData) -> WorkflowInstanceData:
    """A copy callers may keep or mutate without touching the committed state."""
    return state.detached()


def settled(state: WorkflowInstanceData) -> bool:
    """Finished, or waiting for outside input: what ``wait_for`` waits for."""
    return state.status.is_finished or state.status is WorkflowStatus.WAITING


def _carries_out(transition: Transition) -> bool:
    """True if the step kinds have something to carry out along with ``transition``'s commit (``engine.effects``)."""
    return bool(transition.effects) or transition.state.status.is_finished


def _ready_in(tokens: list[Any] | tuple[()], token_id: str) -> bool:
    """True if ``tokens`` hold ``token_id`` as READY."""
    for token in tokens:
        if token.id == token_id:
            return bool(token.status is TokenStatus.READY)
    return False


def definition_missing(
    registry: WorkflowRegistry, state: WorkflowInstanceData, step: str | None = None
) -> DefinitionMissingError:
    """Why the engine cannot go on with ``state`` (at ``step``), and what the operator can do about it."""
    name, version = state.workflow_name, state.workflow_version
    if not registry.has_workflow(name, version):
        return DefinitionMissingError(
            f"instance {state.id} runs version {version!r} of {name!r}, which this app no longer registers; "
            "register it again to finish its instances"
        )
    return DefinitionMissingError(
        f"instance {state.id} is at step {step!r}, which version {version!r} of {name!r} no longer has: the "
        "definition changed without a new version. Register the definition its instances started with under "
        f"version {version!r} again, and publish the change under a new version"
    )


class InstanceRuntime:
    """Per-instance records and the commit/after-commit path (a base of ``LocalExecutionEngine``)."""

    rules: RoleRules
    registry: WorkflowRegistry
    persistence: WorkflowPersistence
    event_bus: EventBus | None
    dispatcher: StepDispatcher
    owner_id: str
    _clock: Callable[[], datetime]
    _lease_delta: timedelta
    _runtime: dict[int, InstanceRecord]

    def _lease_until(self, now: datetime) -> datetime:
        return now + self._lease_delta

    def _record(self, instance_id: UUID) -> InstanceRecord:
        key = instance_id.int
        record = self._runtime.get(key)
        if record is None:
            record = self._runtime[key] = InstanceRecord()
        return record

    def _advancing(self, instance_id: UUID) -> bool:
        """True if this engine holds the instance and runs (or is about to run) one of its steps."""
        record = self._runtime.get(instance_id.int)
        return record is not None and record.leased and bool(record.running or record.pins or record.held)

    def _prune(self, instance_id: UUID, record: InstanceRecord) -> None:
        """Drop ``record`` if nothing about the instance is left to keep."""
        key = instance_id.int
        if self._runtime.get(key) is record and record.idle():
            del self._runtime[key]

    def _definition_of(self, state: WorkflowInstanceData) -> WorkflowDefinition:
        """The definition ``state`` runs; ``DefinitionMissingError`` (with a hint) if it is not registered."""
        try:
            return self.registry.get_definition(state.workflow_name, state.workflow_version)
        except WorkflowNotFoundError:
            raise definition_missing(self.registry, state) from None

    async def _load_fresh(self, instance_id: UUID) -> WorkflowInstanceData:
        state = await self.persistence.load_instance(instance_id)
        if state is None:
            raise WorkflowInstanceNotFoundError(instance_id)
        return state

    async def _transact(
        self,
        instance_id: UUID,
        command: Command,
        *,
        locked: bool = False,
        loaded: WorkflowInstanceData | None = None,
        now: datetime | None = None,
    ) -> Transition | None:
        """Apply ``command`` and commit; on a concurrent update by another writer, reload and redo.

        Returns None when the command no longer applies (``NotCurrent``: a stale attempt). ``loaded``
        is a state the caller just read: it is tried first instead of reading again (if it is stale,
        the commit's revision check refuses it and the loop reloads). ``now`` is the time of the
        first attempt (a step's completion time); retries read the clock. ``locked``: the caller
        holds the instance's lock already.
        """
        record = self._record(instance_id)
        lock = None if locked else record
        if lock is not None and not lock.try_acquire():
            await lock.acquire()
        try:
            for _ in range(MAX_COMMIT_ATTEMPTS):
                state = await self._current(instance_id, record, loaded)
                loaded = None
                try:
                    transition = apply_command(self._definition_of(state), state, command, now or self._clock())
                except NotCurrent:
                    if record.state is state:
                        record.state = None  # advanced elsewhere: the cache may be a state no longer followed
                    return None
                now = None
                try:
                    record.leased = await self._commit(transition, state.revision)
                except ConcurrentUpdateError:
                    record.state = None
                    continue
                return transition
        finally:
            if lock is not None:
                lock.release()
                self._prune(instance_id, record)
        raise ConcurrentUpdateError(f"instance {instance_id} kept changing; gave up after {MAX_COMMIT_ATTEMPTS} tries")

    async def _current(
        self, instance_id: UUID, record: InstanceRecord, loaded: WorkflowInstanceData | None
    ) -> WorkflowInstanceData:
        """The freshest committed state at hand: ``loaded`` if not older than the cache, the cache, or a read."""
        cached = record.state
        if loaded is not None and (cached is None or cached.revision <= loaded.revision):
            return loaded
        if cached is not None:
            return cached
        return await self._load_fresh(instance_id)

    def _commit(
        self, transition: Transition, expected_revision: int, checkpoint: Checkpoint | None = None
    ) -> Awaitable[bool]:
        """Commit ``transition`` (in ``checkpoint``'s transaction, if given); every commit of the engine comes here.

        What the step kinds need done along with it (its effects, or its instance's end: see
        ``engine.effects``) is carried out first, and commits with it. Returns what
        ``WorkflowPersistence.commit`` returns (True: this engine holds the lease), and raises
        what it raises. Most transitions need nothing carried out: those get the persistence's
        own awaitable, with no coroutine of this method's in between (the hot path).
        """
        if _carries_out(transition):
            return self._carry_out_and_write(transition, expected_revision, checkpoint)
        return self._write(transition, expected_revision, checkpoint)

    async def _commit_recorded(
        self, transition: Transition, expected_revision: int
    ) -> tuple[bool, Awaitable[None] | None]:
        """``_commit``, returning once the change is recorded if it has work to run here next.

        The next step then runs while the disk flushes the change: it only needs the change
        recorded (``Transition.flushes``). Returns what ``_commit`` returns, and what to await
        before the change is acknowledged to anyone (None: it was on disk when ``commit`` returned).
        """
        if _carries_out(transition):
            await carry_out(self, transition)
        change = self._prepare_change(transition, expected_revision)
        change.answer_when_recorded = change.lease_until is not None  # runnable work: this engine runs it next
        held = await self.persistence.commit(change)
        return held, change.flushed

    async def _carry_out_and_write(
        self, transition: Transition, expected_revision: int, checkpoint: Checkpoint | None
    ) -> bool:
        await carry_out(self, transition)
        return await self._write(transition, expected_revision, checkpoint)

    def _write(self, transition: Transition, expected_revision: int, checkpoint: Checkpoint | None) -> Awaitable[bool]:
        writer: Checkpoint | WorkflowPersistence = self.persistence if checkpoint is None else checkpoint
        return writer.commit(self._prepare_change(transition, expected_revision))

    def _prepare_change(self, transition: Transition, expected_revision: int) -> InstanceChange:
        state = transition.state
        now = transition.now
        lease_until = None
        # Keep (or take) the lease while a token is due now (``next_run_at(state, now) <= now``).
        if state.status is WorkflowStatus.RUNNING and self.rules.takes_leases:
            for token in state.tokens:
                if token.status is TokenStatus.READY and (token.not_before is None or token.not_before <= now):
                    lease_until = self._lease_until(now)
                    break
        change = InstanceChange(
            state,
            expected_revision,
            transition.executions,
            transition.opened_tasks,
            transition.closed_tasks,
            self.owner_id,
            lease_until,
            now,
            flush=transition.flushes(),
            status_before=transition.status_before,
        )
        for linked in transition.linked:  # other instances' changes, linked by kinds (``engine.effects``)
            expected = -1 if linked.previous is None else linked.previous.revision
            linked.change = self._prepare_change(linked.transition, expected)
            change.linked.append(linked.change)
        return change

    def _settle_record(self, state: WorkflowInstanceData) -> bool:
        """Cache a committed state (or forget it) and wake waiters; True if this engine holds the lease."""
        record = self._runtime.get(state.id.int)
        if record is None:
            return False
        if state.status is WorkflowStatus.RUNNING and record.leased:
            record.state = state
            return True
        record.state = None
        waiters = record.waiters
        if waiters and settled(state):
            record.waiters = None
            for future in waiters:
                if not future.done():
                    future.set_result(snapshot(state))
        held = record.leased
        self._prune(state.id, record)
        return held

    async def _after_commit(
        self,
        transition: Transition,
        previous: WorkflowInstanceData | None,
        continue_from: str | None = None,
    ) -> str | None:
        """Publish a committed transition: cache, waiters, events, and dispatch of new work.

        Returns a token the caller may run inline (the continuation of ``continue_from``'s branch).
        """
        state = transition.state
        if transition.linked:
            self._publish_linked(transition)
            await self._emit_linked(transition)
        held = self._settle_record(state)
        if self.event_bus is not None:
            await self._emit(state.id, transition.events)
        if state.status is not WorkflowStatus.RUNNING:
            return None
        return self._dispatch_new_work(state, previous, continue_from, held)

    def _publish_linked(self, transition: Transition) -> None:
        """After the commit: this engine's view of the linked instances (lease, cache, waiters), and their new work."""
        for linked in transition.linked:
            state = linked.transition.state
            assert linked.change is not None
            held = linked.change.lease_held
            record = self._record(state.id) if held else self._runtime.get(state.id.int)
            if record is not None:
                record.leased = held
                if state.status is WorkflowStatus.CANCELED:  # stop its running steps, as cancel_workflow does
                    record.stop_running()
                self._settle_record(state)
            if state.status is WorkflowStatus.RUNNING:
                self._dispatch_new_work(state, linked.previous, None, held)
            self._publish_linked(linked.transition)

    async def _emit_linked(self, transition: Transition) -> None:
        """The events of every instance linked to ``transition`` (depth first)."""
        for linked in transition.linked:
            await self._emit(linked.transition.state.id, linked.transition.events)
            await self._emit_linked(linked.transition)

    async def _emit(self, instance_id: UUID, events: list[tuple[str, dict[str, Any]]]) -> None:
        bus = self.event_bus
        if bus is None:
            return
        for event_type, payload in events:
            try:
                await bus.emit(event_type, instance_id=instance_id, **payload)
            except Exception:
                logger.exception("event bus failed on %s", event_type)

    def _dispatch_new_work(
        self, state: WorkflowInstanceData, previous: WorkflowInstanceData | None, continue_from: str | None, held: bool
    ) -> str | None:
        earlier = previous.tokens if previous is not None else ()
        continuation: str | None = None
        for token in state.tokens:
            if token.status is not TokenStatus.READY:
                continue
            if token.id != continue_from and _ready_in(earlier, token.id):
                continue  # runnable before this change already: dispatched back then
            if token.not_before is None and not self.rules.dispatches_unleased(held):
                continue  # due now but leased by another engine, which runs it
            if continue_from is not None and continuation is None and token.not_before is None:
                continuation = token.id
            else:
                self.dispatcher.dispatch(state.id, token.id, token.not_before)
        return continuation
