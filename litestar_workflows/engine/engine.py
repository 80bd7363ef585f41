"""``LocalExecutionEngine``: the public facade of the kernel.

The engine is assembled from the kernel's parts, each in its own module: ``runtime`` (instance
records, commit with retry, after-commit), ``runner`` (running tokens), ``execution`` (one step
attempt), ``leases`` (recovery and polling), ``completion`` (task completion); every change is a
command (``commands``) applied by the one reducer (``transitions.apply_command``). The engine
itself keeps only caches: a restarted engine on the same persistence resumes from what was
committed.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from litestar_workflows.core.context import WorkflowContext
from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import (
    ConcurrentUpdateError,
    InstanceAlreadyExistsError,
    InvalidTransitionError,
    StepExecutionError,
    WorkflowValidationError,
)
from litestar_workflows.core.form_types import accept_typed
from litestar_workflows.core.kinds import SIGNAL
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.protocols import Step, Workflow
from litestar_workflows.core.types import TaskStatus, WorkflowStatus
from litestar_workflows.core.values import NUL, PLAIN_TYPES, ensure_storable, ensure_storable_text
from litestar_workflows.engine.commands import Cancel, Retry, Schedule, SignalReceived, Start
from litestar_workflows.engine.completion import TaskCompletions, WorkflowStart
from litestar_workflows.engine.dispatch import InProcessDispatcher, StepDispatcher
from litestar_workflows.engine.events import EventBus
from litestar_workflows.engine.leases import LeaseLoops
from litestar_workflows.engine.memory import InMemoryPersistence
from litestar_workflows.engine.persistence import WorkflowPersistence
from litestar_workflows.engine.records import InstanceRecord
from litestar_workflows.engine.registry import WorkflowRegistry
from litestar_workflows.engine.roles import EngineRole, RoleRules
from litestar_workflows.engine.runner import TokenRunner
from litestar_workflows.engine.runtime import settled, snapshot
from litestar_workflows.engine.transitions import apply_command, new_instance

__all__ = ("LocalExecutionEngine",)

_utcnow: Callable[[], datetime] = functools.partial(datetime.now, UTC)
"""The current UTC time (a partial, not a function: one Python call less per clock reading)."""


def _checked_start_data(
    definition: WorkflowDefinition,
    initial_data: dict[str, Any] | None,
    trusted_data: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    """The data a new instance starts with; ``WorkflowValidationError`` (nothing created) if it may not.

    Typed start input is checked first, then the caller's trusted values are added, then every
    value (and the metadata) must be storable.
    """
    data = initial_data or {}  # ``new_instance`` copies it
    if definition.input_type is not None:
        data = accept_typed(definition.input_type, data, f"start data of workflow {definition.name!r}")
    if trusted_data:
        data = {**data, **trusted_data}
    for key, value in data.items():
        if type(value) not in PLAIN_TYPES or NUL in key:
            ensure_storable(key, value)
    for key, value in (metadata or {}).items():
        ensure_storable(key, value)
    return data


class LocalExecutionEngine(TaskCompletions, LeaseLoops, TokenRunner):
    """Runs workflow instances in this process, durably through ``persistence``.

    Args:
        registry: The definitions the engine can run.
        persistence: Where state lives; in memory when None.
        event_bus: Receives ``emit(event_type, instance_id=..., ...)`` after each commit.
        dispatcher: Runs runnable steps; an in-process asyncio dispatcher when None.
        clock: Returns the current UTC time (tests may pass a fake one).
        owner_id: Names this engine in instance leases (unique per process by default).
        lease_seconds: How long a lease lasts without renewal; another engine takes over an
            instance whose lease expired (its process died).
        poll_interval: Seconds between scans for claimable work (due timers, expired leases,
            work released by a stopped engine) once :meth:`start` was called.
        admin_role: A group whose members may complete any task, even one claimed by someone
            else (checked when a task is completed by an ``Identity``; see :meth:`complete_task`).
        role: What this engine does in its process (``engine.roles``): ``BOTH`` (the default)
            serves and runs; with a queue, ``WEB`` commits and dispatches, ``WORKER`` runs steps.
        recovery_grace: Seconds due work waits for its dispatcher before recovery claims it
            (0 in-process; a queue's workers leave the queue that long to deliver it).
    """

    def __init__(
        self,
        registry: WorkflowRegistry,
        persistence: WorkflowPersistence | None = None,
        event_bus: EventBus | None = None,
        *,
        dispatcher: StepDispatcher | None = None,
        clock: Callable[[], datetime] = _utcnow,
        owner_id: str | None = None,
        lease_seconds: float = 30.0,
        poll_interval: float = 1.0,
        admin_role: str | None = None,
        role: EngineRole = EngineRole.BOTH,
        recovery_grace: float = 0.0,
    ) -> None:
        self.rules = RoleRules(role, recovery_grace)
        """What this engine may do in its role: every role check asks this object."""
        self.registry = registry
        self.admin_role = admin_role
        self.persistence: WorkflowPersistence = persistence if persistence is not None else InMemoryPersistence()
        self.event_bus = event_bus
        self.dispatcher: StepDispatcher = dispatcher or InProcessDispatcher(self.run_token)
        self._clock = clock
        self._runtime: dict[int, InstanceRecord] = {}
        """Per instance: cached committed state (of instances with runnable work here; a cache, never
        the only copy), whether this engine holds its lease (only those are advanced here), its
        lock, running tokens and ``wait_for`` futures. Keyed by ``UUID.int``: a UUID hashes in
        Python code, an int in C, and the record is looked up several times per instance."""
        self.owner_id = owner_id or f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"
        self._lease_delta = timedelta(seconds=lease_seconds)
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self._background: list[asyncio.Task[None]] = []

    # --- starting -----------------------------------------------------------------------------

    def _resolve(self, workflow: type[Workflow] | WorkflowDefinition | str, version: str | None) -> WorkflowDefinition:
        if isinstance(workflow, str):
            return self.registry.get_definition(workflow, version)
        if isinstance(workflow, WorkflowDefinition):
            if not self.registry.has_workflow(workflow.name, workflow.version):
                self.registry.register_definition(workflow)
            registered = self.registry.get_definition(workflow.name, workflow.version)
            if registered is not workflow:
                raise WorkflowValidationError(
                    f"another definition is registered as {workflow.name!r} version {workflow.version!r}",
                    ["start it by name, or register this one under a new version"],
                )
            return registered
        definition = workflow.get_definition()
        if not self.registry.has_workflow(definition.name, definition.version):
            self.registry.register(workflow)
        return self.registry.get_definition(definition.name, definition.version)

    async def start_workflow(
        self,
        workflow: type[Workflow] | WorkflowDefinition | str,
        initial_data: dict[str, Any] | None = None,
        *,
        version: str | None = None,
        instance_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        trusted_data: dict[str, Any] | None = None,
        started_by: str | None = None,
    ) -> WorkflowInstanceData:
        """Create an instance (committed before this returns) and start running it.

        ``workflow`` is a workflow class, a definition, or a registered name (latest version
        unless ``version`` is given). When the definition has an ``input_type``, ``initial_data``
        must fit it: otherwise ``WorkflowValidationError`` names each failing field and no
        instance is created. ``trusted_data`` holds values your own code sets, not the caller
        (such as who started it): they are added after that check, over ``initial_data``.
        A caller-chosen ``instance_id`` makes the start idempotent:
        if that instance exists already, ``InstanceAlreadyExistsError`` is raised and nothing
        changes (derive the id from an idempotency key, e.g. with ``uuid5``). ``metadata`` is
        stored with the instance (``context.metadata``). ``started_by`` records who started it
        (``WorkflowInstanceData.started_by``; the API's authorization policy goes by it).
        """
        started = await self.start_workflow_detailed(
            workflow,
            initial_data,
            version=version,
            instance_id=instance_id,
            metadata=metadata,
            trusted_data=trusted_data,
            started_by=started_by,
        )
        return started.instance

    async def start_workflow_detailed(
        self,
        workflow: type[Workflow] | WorkflowDefinition | str,
        initial_data: dict[str, Any] | None = None,
        *,
        version: str | None = None,
        instance_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        trusted_data: dict[str, Any] | None = None,
        started_by: str | None = None,
    ) -> WorkflowStart:
        """:meth:`start_workflow`, answering with the human tasks its commit opened as well as the instance.

        What the REST API answers a start with, without reading the tasks back.
        """
        definition = self._resolve(workflow, version)
        data = _checked_start_data(definition, initial_data, trusted_data, metadata)
        now = self._clock()
        instance = new_instance(definition, data, now, instance_id)
        instance.started_by = started_by
        if metadata:
            instance.context.metadata.update(metadata)
        transition = apply_command(definition, instance, Start(), now)
        try:
            held, flushing = await self._commit_recorded(transition, -1)
        except ConcurrentUpdateError:
            raise InstanceAlreadyExistsError(instance.id) from None
        if held:
            self._record(instance.id).leased = True
        elif (record := self._runtime.get(instance.id.int)) is not None:
            record.leased = False
        started = WorkflowStart.committed(transition)  # as committed, before its first step runs
        await self._after_commit(transition, previous=None)
        if flushing is not None:  # the first step runs already; the caller is answered once the start is on disk
            await flushing
        return started

    async def signal(self, instance_id: UUID, step_name: str, payload: Any = None) -> WorkflowInstanceData:
        """Deliver an outside event to the webhook step ``step_name``; its payload lands in the context."""
        state = await self._load_fresh(instance_id)
        definition = self._definition_of(state)
        if step_name not in definition.steps or SIGNAL not in definition.graph.kinds[step_name].accepts:
            raise InvalidTransitionError(f"workflow {state.workflow_name!r} has no webhook step {step_name!r}")
        ensure_storable("payload", payload)
        transition = await self._transact(instance_id, SignalReceived(step_name, payload))
        assert transition is not None
        await self._after_commit(transition, previous=state)
        return snapshot(transition.state)

    # --- cancel, retry, schedule --------------------------------------------------------------

    async def cancel_workflow(self, instance_id: UUID, reason: str) -> WorkflowInstanceData:
        """Cancel: running steps are stopped, open tasks cancelled, the reason recorded."""
        ensure_storable_text("reason", reason)
        state = await self._load_fresh(instance_id)
        record = self._record(instance_id)
        try:
            async with record:
                command = Cancel(reason, tuple(record.running))
                transition = await self._transact(instance_id, command, locked=True)
                record.stop_running()
        finally:
            self._prune(instance_id, record)
        assert transition is not None
        await self._after_commit(transition, previous=state)
        return snapshot(transition.state)

    async def retry_workflow(self, instance_id: UUID) -> WorkflowInstanceData:
        """Resume a FAILED instance from the step(s) where it stopped."""
        await self._load_fresh(instance_id)  # raises WorkflowInstanceNotFoundError for unknown ids
        transition = await self._transact(instance_id, Retry())
        assert transition is not None
        # previous=None: the failed token was already READY before, but nothing runs it until now.
        await self._after_commit(transition, previous=None)
        return snapshot(transition.state)

    async def schedule_step(self, instance_id: UUID, step_name: str, delay: timedelta | None = None) -> None:
        """Add a runnable token on ``step_name`` (not before ``delay`` from now), durably."""
        state = await self._load_fresh(instance_id)
        definition = self._definition_of(state)
        if step_name not in definition.steps:
            raise InvalidTransitionError(f"workflow {state.workflow_name!r} has no step {step_name!r}")
        command = Schedule(step_name, None if delay is None else self._clock() + delay)
        transition = await self._transact(instance_id, command)
        assert transition is not None
        await self._after_commit(transition, previous=state)

    async def execute_step(self, step: Step, context: WorkflowContext, previous_result: Any = None) -> Any:
        """Run one step outside any instance (hooks included); raises ``StepExecutionError`` on failure."""
        if previous_result is not None:
            context.set("_previous_result", previous_result)
        if not await step.can_execute(context):
            return None
        try:
            result = await step.execute(context)
        except Exception as exc:
            await step.on_failure(context, exc)
            raise StepExecutionError(step.name, f"{type(exc).__name__}: {exc}") from exc
        await step.on_success(context, result)
        return result

    # --- reading ------------------------------------------------------------------------------

    async def get_instance(self, instance_id: UUID) -> WorkflowInstanceData:
        """The committed state of an instance (a copy); raises ``WorkflowInstanceNotFoundError``."""
        return snapshot(await self._load_fresh(instance_id))

    def get_running_instances(self) -> list[WorkflowInstanceData]:
        """Instances that are running or waiting (among those this engine can see synchronously)."""
        return [
            snapshot(state)
            for state in self._known_instances()
            if state.status in {WorkflowStatus.RUNNING, WorkflowStatus.WAITING}
        ]

    def get_all_instances(self) -> list[WorkflowInstanceData]:
        """Every instance this engine can see synchronously (all of them with in-memory persistence)."""
        return [snapshot(state) for state in self._known_instances()]

    def _known_instances(self) -> list[WorkflowInstanceData]:
        """What the persistence hands out without waiting (everything in memory), then this engine's cached states."""
        known = list(self.persistence.known_instances())
        seen = {state.id for state in known}
        cached = [record.state for record in self._runtime.values() if record.state is not None]
        return known + [state for state in cached if state.id not in seen]

    async def get_tasks(
        self, instance_id: UUID | None = None, status: TaskStatus | None = TaskStatus.OPEN
    ) -> list[HumanTaskData]:
        """Human tasks (open ones by default), optionally of one instance; copies the caller may change."""
        return [task.detached() for task in await self.persistence.list_tasks(instance_id=instance_id, status=status)]

    async def wait_for(self, instance_id: UUID, timeout: float | None = None) -> WorkflowInstanceData:
        """Wait until the instance is completed, failed, cancelled, or waiting for outside input.

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        record = self._runtime.get(instance_id.int)
        advanced_here = record is not None and record.state is not None and record.leased
        record = self._record(instance_id)
        future: asyncio.Future[WorkflowInstanceData] = asyncio.get_running_loop().create_future()
        if record.waiters is None:
            record.waiters = []
        record.waiters.append(future)
        try:
            if not advanced_here:
                # Read what was committed (it may have settled elsewhere). The waiter is registered
                # first: a change published while the read is under way (a sub-workflow's parent
                # resumed by its child's commit, say) still wakes it.
                state = await self._load_fresh(instance_id)
                if settled(state):
                    return snapshot(state)
            if timeout is None:
                return await future  # no timer to arm and cancel: a noticeable cost per instance
            async with asyncio.timeout(timeout):
                return await future
        finally:
            waiters = record.waiters
            if waiters is not None and future in waiters:
                waiters.remove(future)
            self._prune(instance_id, record)

    # --- across processes ---------------------------------------------------------------------

    async def changed_elsewhere(self, instance_id: UUID) -> None:
        """Another process committed a change to the instance: wake this process's ``wait_for`` if it settled.

        Called for events that arrive from other processes (``queue.events``). Costs a read
        only when someone here waits on an instance this engine does not advance itself.
        """
        record = self._runtime.get(instance_id.int)
        if record is None or not record.waiters or record.leased:
            return  # an instance this engine advances settles its waiters itself
        state = await self.persistence.load_instance(instance_id)
        if state is not None and self._runtime.get(instance_id.int) is record:
            self._settle_record(state)

    def holds_lease(self, instance_id: UUID) -> bool:
        """True if this engine holds the instance's lease (a worker then runs its due tokens itself)."""
        record = self._runtime.get(instance_id.int)
        return record is not None and record.leased
