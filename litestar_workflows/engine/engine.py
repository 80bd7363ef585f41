"""``LocalExecutionEngine``: the one execution loop.

Every change goes through ``Transition`` (what changes) and ``WorkflowPersistence.commit``
(one atomic write); runnable tokens go through the ``StepDispatcher``. The engine itself keeps
only caches: a restarted engine on the same persistence resumes from what was committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
import os
import socket
import types
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from litestar_workflows.core.context import StepExecution, WorkflowContext
from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import (
    ChangeRefusedError,
    ConcurrentUpdateError,
    DatabaseUnavailableError,
    DefinitionMissingError,
    InstanceAlreadyExistsError,
    InvalidTransitionError,
    StepExecutionError,
    TaskAlreadyCompletedError,
    TaskNotFoundError,
    UnauthorizedTaskError,
    WorkflowAlreadyCompletedError,
    WorkflowInstanceNotFoundError,
    WorkflowNotFoundError,
    WorkflowsError,
    WorkflowValidationError,
)
from litestar_workflows.core.form_types import accept_typed
from litestar_workflows.core.forms import accepted_form_data
from litestar_workflows.core.identity import Identity
from litestar_workflows.core.models import HumanTaskData, Token, WorkflowInstanceData
from litestar_workflows.core.protocols import Step, Workflow
from litestar_workflows.core.task_checks import TaskActor, open_task_refusal
from litestar_workflows.core.types import StepStatus, StepType, TaskStatus, TokenStatus, WorkflowStatus
from litestar_workflows.core.values import (
    NESTED_TYPES,
    NUL,
    PLAIN_TYPES,
    copy_nested,
    ensure_storable,
    ensure_storable_text,
    private_copy,
    storable_text,
)
from litestar_workflows.engine.completion import TaskCompletion, closed_task
from litestar_workflows.engine.dispatch import InProcessDispatcher, StepDispatcher
from litestar_workflows.engine.events import EventBus
from litestar_workflows.engine.failures import log_failed_attempt, log_failed_instance, traceback_text
from litestar_workflows.engine.memory import InMemoryPersistence
from litestar_workflows.engine.persistence import (
    InstanceChange,
    TaskClosure,
    WorkflowPersistence,
)
from litestar_workflows.engine.registry import WorkflowRegistry
from litestar_workflows.engine.roles import EngineRole, RoleRules, TokenRun
from litestar_workflows.engine.transitions import (
    Changes,
    Transition,
    new_instance,
    succeed_simply,
    view_of,
)
from litestar_workflows.steps.base import BaseStep

__all__ = ("LocalExecutionEngine",)

logger = logging.getLogger("litestar_workflows.engine")

_MAX_COMMIT_ATTEMPTS = 20
_STEPS_BETWEEN_YIELDS = 8
"""A branch whose steps never suspend (in memory, no I/O) yields to the event loop this often:
after every step, the hand-over to the loop cost more than short steps themselves."""


@dataclass(slots=True)
class _Outcome:
    """What running one step produced, before it is committed."""

    execution: StepExecution
    changes: Changes | None = None
    chosen: list[str] | None = None
    retry_in: float | None = None
    fatal: str | None = None


_utcnow: Callable[[], datetime] = functools.partial(datetime.now, UTC)
"""The current UTC time (a partial, not a function: one Python call less per clock reading)."""


class _NotRun(enum.Enum):
    """``_run_one``'s answer when a token had nothing to run (``run_token`` then reports ``NOTHING_TO_RUN``)."""

    NOT_RUN = enum.auto()


_NOT_RUN = _NotRun.NOT_RUN


def _snapshot(state: WorkflowInstanceData) -> WorkflowInstanceData:
    """A copy callers may keep or mutate without touching the committed state."""
    return state.detached()


@dataclass(slots=True, frozen=True)
class _Hooks:
    """Which optional hooks a step class overrides (calling a no-op coroutine costs per step)."""

    can_execute: bool
    on_success: bool
    plain: bool
    """Neither hook is overridden."""


_HOOKS: dict[type[Any], _Hooks] = {}


def _hooks_of(step: Step) -> _Hooks:
    kind = type(step)
    hooks = _HOOKS.get(kind)
    if hooks is None:
        can_execute = getattr(kind, "can_execute", None) is not BaseStep.can_execute
        on_success = getattr(kind, "on_success", None) is not BaseStep.on_success
        hooks = _Hooks(can_execute, on_success, not can_execute and not on_success)
        _HOOKS[kind] = hooks
    return hooks


def _storable_changes(before: dict[str, Any], after: dict[str, Any], result: Any) -> Changes:
    """What a step changed in its data; raises ``WorkflowValidationError`` if it or the result cannot be stored.

    Changed dicts and lists are copied: the step may keep its context and change them later.
    """
    changes = Changes.between(before, after)
    changed = changes.set
    for key, value in changed.items():
        kind = type(value)
        if kind not in PLAIN_TYPES or type(key) is not str or NUL in key:  # a new key may be unstorable too
            ensure_storable(key, value)
            if kind in NESTED_TYPES:
                changed[key] = copy_nested(value)
    if type(result) not in PLAIN_TYPES:
        ensure_storable("result", result)
    return changes


def _retry_in(step: Step, token: Token) -> float | None:
    """Seconds until a failed attempt of ``token``'s step runs again; None when its retries are spent."""
    attempt_in_budget = token.attempt - token.retry_base + 1
    if attempt_in_budget > int(getattr(step, "max_retries", 0)):
        return None
    backoff_for = getattr(step, "backoff_for", None)
    return float(backoff_for(attempt_in_budget)) if backoff_for is not None else 0.0


def _refused(step: Step, token: Token, outcome: _Outcome, exc: ChangeRefusedError) -> _Outcome:
    """A failed attempt in place of ``outcome``, whose commit the database refused.

    Running the step again may produce a storable result (or not: its retries run out and the
    instance fails), instead of the same refused commit being tried forever.
    """
    execution = outcome.execution
    failed = StepExecution(
        token.step,
        StepStatus.FAILED,
        error=storable_text(f"its result could not be stored: {exc}"),
        started_at=execution.started_at,
        completed_at=execution.completed_at,
        attempt=token.attempt,
    )
    return _Outcome(failed, retry_in=_retry_in(step, token))


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


def _forget(running: dict[str, asyncio.Task[Any]], task: asyncio.Task[Any]) -> None:
    """Remove ``task`` from the running tokens of an instance."""
    for token_id, running_task in list(running.items()):
        if running_task is task:
            del running[token_id]


def _settled(state: WorkflowInstanceData) -> bool:
    return state.status.is_finished or state.status is WorkflowStatus.WAITING


def _step_view(state: WorkflowInstanceData, token: Token, session: Any) -> tuple[dict[str, Any], WorkflowContext]:
    """The data the step of ``token`` starts from, and the context it runs with (over a private copy of it).

    ``before`` holds committed objects, which nothing changes in place; the step gets copies of
    its dicts and lists too, so what it changes in place (even in an attempt that then fails)
    shows up as a change of its own data and nowhere else.
    """
    before = view_of(state, token) if token.delta or token.removed else state.context.data
    data = private_copy(before)
    source = state.context
    context = WorkflowContext(  # what ``step_context`` builds, without its keyword handling
        source.workflow_id,
        source.instance_id,
        data,
        source.metadata,
        token.step,
        source.step_history,
        source.started_at,
        source.user_id,
        source.tenant_id,
        token.attempt,
        session,
        token.id,
    )
    return before, context


def _ready_in(tokens: list[Token] | tuple[()], token_id: str) -> bool:
    """True if ``tokens`` hold ``token_id`` as READY."""
    for token in tokens:
        if token.id == token_id:
            return token.status is TokenStatus.READY
    return False


def _ready_token(state: WorkflowInstanceData | None, token_id: str) -> Token | None:
    """The READY token ``token_id`` of a running instance, or None."""
    if state is None or state.status is not WorkflowStatus.RUNNING:
        return None
    for token in state.tokens:
        if token.id == token_id:
            return token if token.status is TokenStatus.READY else None
    return None


def _apply_outcome(transition: Transition, token_id: str, outcome: _Outcome) -> bool:
    """Record what running ``token_id``'s step produced; False if the token is no longer runnable."""
    live = transition.token(token_id)
    if transition.state.status is not WorkflowStatus.RUNNING or live is None:
        return False  # cancelled, failed or advanced elsewhere meanwhile: drop the result
    if live.status is not TokenStatus.READY:
        return False
    if outcome.fatal is not None:
        transition.executions.append(outcome.execution)
        transition.fail(outcome.fatal)
    elif outcome.execution.status is StepStatus.FAILED:
        transition.step_failed(live, outcome.execution, outcome.retry_in)
    else:
        transition.step_succeeded(live, outcome.changes or Changes(), outcome.execution, outcome.chosen)
    return True


@types.coroutine
def _yield_to_loop() -> Generator[None, None, None]:
    """``await asyncio.sleep(0)`` without the extra coroutine: one bare yield to the event loop."""
    yield


class _InstanceLock:
    """A FIFO asyncio lock that is taken without creating a coroutine when nobody holds it.

    ``asyncio.Lock`` costs two coroutines per ``async with`` even when uncontended, on every
    step; the hot path here calls :meth:`try_acquire` and only awaits when another writer of
    the same instance holds the lock. Release hands the lock directly to the oldest waiter.
    """

    __slots__ = ("_waiters", "held")

    def __init__(self) -> None:
        self.held = False
        self._waiters: deque[asyncio.Future[None]] | None = None

    def locked(self) -> bool:
        return self.held

    def try_acquire(self) -> bool:
        if self.held:
            return False
        self.held = True
        return True

    async def acquire(self) -> None:
        if not self.held:
            self.held = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = deque()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the lock was handed over just as we were cancelled: pass it on
            elif future in self._waiters:
                # Not there when ``release`` ran between the cancel and now: it dropped the
                # cancelled future and handed the lock to the next waiter (or freed it).
                self._waiters.remove(future)
            raise

    def release(self) -> None:
        waiters = self._waiters
        while waiters:
            future = waiters.popleft()
            if not future.done():
                future.set_result(None)  # ``held`` stays True: ownership moves to that waiter
                return
        self.held = False

    async def __aenter__(self) -> None:
        if not self.try_acquire():
            await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()


class _Runtime(_InstanceLock):
    """What this engine keeps about one instance, in one record (one dict lookup per step).

    The record is the instance's lock itself (one object less per live instance). ``state``
    caches the committed state while this engine holds the lease and the instance is running;
    ``leased`` says whether this engine holds the lease; ``running`` maps token ids to the tasks
    running their steps; ``waiters`` are ``wait_for`` futures. The record is dropped as soon as
    none of that is left (see :meth:`idle`).
    """

    __slots__ = ("leased", "pins", "running", "state", "waiters")

    def __init__(self) -> None:
        self.held = False  # the lock's fields, set here: one call less per instance
        self._waiters = None
        self.state: WorkflowInstanceData | None = None
        self.leased = False
        self.running: dict[str, asyncio.Task[Any]] = {}
        self.waiters: list[asyncio.Future[WorkflowInstanceData]] | None = None
        self.pins = 0
        """``run_token`` loops using this record (it stays registered while they run, even between steps)."""

    def idle(self) -> bool:
        return (
            self.state is None
            and not self.leased
            and not self.running
            and not self.held
            and not self.waiters
            and not self.pins
        )


class LocalExecutionEngine:
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
        self._runtime: dict[int, _Runtime] = {}
        """Per instance: cached committed state (of instances with runnable work here; a cache, never
        the only copy), whether this engine holds its lease (only those are advanced here), its
        lock, running tokens and ``wait_for`` futures. Keyed by ``UUID.int``: a UUID hashes in
        Python code, an int in C, and the record is looked up several times per instance."""
        self.owner_id = owner_id or f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"
        self._lease_delta = timedelta(seconds=lease_seconds)
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self._background: list[asyncio.Task[None]] = []

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> int:
        """Resume committed work and keep claiming it; returns how many instances were resumed.

        Recovery is the same claim that runs every ``poll_interval``: running instances with a
        due token whose lease is free or expired (a crashed process), including timers that
        fell due while no engine was up. WAITING instances stay waiting. Logs how many were
        resumed (INFO), whoever starts the engine: the app, a worker script, a CLI command.
        The web role (``engine.roles``) recovers nothing and runs no loop: it holds no leases.
        """
        if not self.rules.recovers:
            return 0
        resumed = await self.recover()
        if resumed:
            logger.info("resumed %d workflow instance(s) left running by a stopped or crashed engine", resumed)
        if not self._background:
            loop = asyncio.get_running_loop()
            self._background = [
                loop.create_task(self._poll_forever(), name="litestar_workflows.claim"),
                loop.create_task(self._renew_forever(), name="litestar_workflows.renew"),
            ]
        return resumed

    @property
    def loops(self) -> dict[str, bool]:
        """Whether each background loop runs: ``claim`` (recovery, timers) and ``renew`` (leases).

        Empty until :meth:`start` (the CLI runs an engine without them) and after :meth:`stop`.
        """
        return {task.get_name().rpartition(".")[2]: not task.done() for task in self._background}

    async def recover(self) -> int:
        """Claim and dispatch every instance with due work and a free or expired lease, once.

        With a ``recovery_grace``, only work due (and leases expired) that long ago is claimed:
        until then it is the dispatcher's (a queue delivers it to some worker).
        """
        resumed = 0
        grace = timedelta(seconds=self.rules.recovery_grace)
        while True:
            now = self._clock()
            claimed = await self.persistence.claim_runnable(self.owner_id, now - grace, self._lease_until(now), 200)
            # Instances this engine is advancing right now dispatch their own next steps. One it
            # holds with nothing running here has a due token nobody runs (a stale attempt of a
            # step was committed by an engine whose lease had expired, after this one took the
            # instance over and found nothing to run): it is resumed like a claimed one.
            fresh = [instance_id for instance_id in claimed if not self._advancing(instance_id)]
            for instance_id in fresh:
                state = await self.persistence.load_instance(instance_id)
                if state is None or state.status is not WorkflowStatus.RUNNING:
                    continue
                record = self._record(instance_id)
                record.leased = True
                record.state = state
                for token in state.tokens:
                    if token.status is TokenStatus.READY:
                        self.dispatcher.dispatch(instance_id, token.id, token.not_before)
                resumed += 1
            if len(claimed) < 200 or not fresh:
                return resumed

    async def stop(self, grace_period: float = 5.0) -> None:
        """Stop taking work; running steps get ``grace_period`` seconds, the rest is left to recovery.

        Leases are released, so another engine can take the instances over at once.
        """
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background = []
        await self.dispatcher.close(grace_period)
        await self.persistence.release_leases(self.owner_id)
        for key, record in list(self._runtime.items()):
            record.leased = False
            record.state = None
            self._prune(UUID(int=key), record)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.recover()
            except DatabaseUnavailableError as exc:  # no traceback: it says nothing the message does not
                logger.warning("claiming work failed: %s; retrying in %ss", exc, self.poll_interval)
            except Exception:
                logger.exception("claiming work failed; retrying in %ss", self.poll_interval)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            held = [UUID(int=key) for key, record in self._runtime.items() if record.leased]
            if not held:
                continue
            try:
                await self.persistence.renew_leases(self.owner_id, held, self._lease_until(self._clock()))
            except DatabaseUnavailableError as exc:
                logger.warning("renewing leases failed: %s", exc)
            except Exception:
                logger.exception("renewing leases failed")

    @property
    def lease_seconds(self) -> float:
        """How long a lease lasts without renewal (may be changed on a running engine)."""
        return self._lease_seconds

    @lease_seconds.setter
    def lease_seconds(self, seconds: float) -> None:
        self._lease_seconds = seconds
        self._lease_delta = timedelta(seconds=seconds)

    def _lease_until(self, now: datetime) -> datetime:
        return now + self._lease_delta

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
        definition = self._resolve(workflow, version)
        data = _checked_start_data(definition, initial_data, trusted_data, metadata)
        now = self._clock()
        instance = new_instance(definition, data, now, instance_id)
        instance.started_by = started_by
        if metadata:
            instance.context.metadata.update(metadata)
        transition = Transition(definition, instance, now, fresh=True)
        transition.start()
        try:
            held = await self.persistence.commit(self._prepare_change(transition, -1))
        except ConcurrentUpdateError:
            raise InstanceAlreadyExistsError(instance.id) from None
        if held:
            self._record(instance.id).leased = True
        elif (record := self._runtime.get(instance.id.int)) is not None:
            record.leased = False
        if self.event_bus is None:
            self._publish(transition.state, None, None)
        else:
            await self._after_commit(transition, previous=None)
        return _snapshot(transition.state)

    # --- running steps ------------------------------------------------------------------------

    async def run_token(self, instance_id: UUID, token_id: str) -> TokenRun:
        """Run the step of a committed READY token, then keep going along its branch; says what it did.

        This is what a dispatcher calls. Tokens that are gone, not runnable, not yet due, or
        already running in this process are ignored (``NOTHING_TO_RUN``), so duplicate dispatches
        are harmless. ``HELD_ELSEWHERE``: another live engine holds the instance; a queue job
        tries again later instead of dropping the token.
        """
        record = await self._held_for(instance_id, token_id)
        if isinstance(record, TokenRun):
            return record
        task = asyncio.current_task()
        assert task is not None
        current: str | None = token_id
        running = record.running
        record.pins += 1
        steps = 0
        ran = TokenRun.NOTHING_TO_RUN
        try:
            while current is not None:
                running[current] = task
                try:
                    following = await self._run_one(instance_id, current, record, task)
                finally:
                    if running.pop(current, None) is None and running:
                        _forget(running, task)  # the in-memory lane went on to later tokens of the branch
                if following is _NOT_RUN:
                    break
                ran = TokenRun.RAN
                current = following
                steps += 1
                if current is not None and steps % _STEPS_BETWEEN_YIELDS == 0:
                    await _yield_to_loop()  # a long chain of steps that never await lets the app breathe
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The database may be down, or a definition missing. The token stays committed as
            # READY; forgetting the lease here lets the claim loop hand it back and try again.
            if isinstance(exc, DatabaseUnavailableError | DefinitionMissingError):  # the message says it all
                logger.error(
                    "workflow instance %s: token %s could not run, retrying later: %s", instance_id, current, exc
                )
            else:
                logger.exception("workflow instance %s: token %s could not run; retrying later", instance_id, current)
            record.leased = False
            record.state = None
        finally:
            record.pins -= 1
            self._prune(instance_id, record)
        return ran

    async def _held_for(self, instance_id: UUID, token_id: str) -> _Runtime | TokenRun:
        """The instance's record with its lease held here, to run ``token_id``; or why it cannot run here."""
        if not self.rules.runs_steps:
            msg = f"an engine in the {self.rules.role.value} role runs no steps: dispatch through a queue"
            raise RuntimeError(msg)
        record = self._record(instance_id)
        if token_id in record.running:
            return TokenRun.NOTHING_TO_RUN
        if not record.leased:
            now = self._clock()
            acquired = await self.persistence.acquire_lease(instance_id, self.owner_id, now, self._lease_until(now))
            record = self._record(instance_id)  # the record may have been dropped meanwhile
            if not acquired:
                self._prune(instance_id, record)
                return TokenRun.HELD_ELSEWHERE  # another live engine advances this instance
            record.leased = True
            record.state = None  # the state may have moved while unleased
        elif record.state is not None and _ready_token(record.state, token_id) is None:
            record.state = None  # made runnable by another process (a web commit): not in the cache yet
        return record

    async def _run_one(  # noqa: PLR0912, PLR0915
        self, instance_id: UUID, token_id: str, record: _Runtime, task: asyncio.Task[Any]
    ) -> str | _NotRun | None:
        """Run one token's step and commit its outcome (the per-step hot path, kept in one coroutine).

        Returns the token to go on with, None at the end of the branch, or ``_NOT_RUN`` when the
        token had nothing to run (gone, not ready, not due yet).
        """
        state = record.state
        if state is None:
            state = await self.persistence.load_instance(instance_id)
            if state is None:
                return _NOT_RUN
        tokens = state.tokens
        if len(tokens) == 1 and state.status is WorkflowStatus.RUNNING:  # the usual case, without a call
            token = tokens[0]
            if token.id != token_id or token.status is not TokenStatus.READY:
                return _NOT_RUN
        else:
            found = _ready_token(state, token_id)
            if found is None:
                return _NOT_RUN
            token = found
        if token.not_before is not None and token.not_before > self._clock():
            self.dispatcher.dispatch(instance_id, token_id, token.not_before)
            return _NOT_RUN
        try:
            definition = self.registry.get_definition(state.workflow_name, state.workflow_version)
            step = definition.steps[token.step]
        except LookupError:  # a version no longer registered, or a step its definition lost
            raise _definition_missing(self.registry, state, token.step) from None
        if getattr(step, "transactional", False):
            ran = await self._run_transactional(definition, instance_id, token_id)
            if ran is None:
                return _NOT_RUN
            if isinstance(ran, Transition):
                return await self._after_commit(ran, previous=state, continue_from=token_id)
            outcome = ran  # a failed attempt: its writes were rolled back; record the failure
        else:
            outcome = await self._execute(definition, state, token)
        transition: Transition | None = None
        cached = record.state
        lock = record
        if cached is not None and lock.try_acquire():
            # The usual case, without ``_transact``'s retry loop: nobody else is changing the
            # instance, and its committed state is cached here.
            try:
                now = outcome.execution.completed_at or self._clock()
                if (
                    outcome.fatal is None
                    and outcome.chosen is None
                    and outcome.execution.status is not StepStatus.FAILED
                ):
                    transition = succeed_simply(
                        definition, cached, token_id, outcome.changes or Changes(), outcome.execution, now
                    )
                if transition is None:
                    transition = Transition(definition, cached, now)
                    if not _apply_outcome(transition, token_id, outcome):
                        # Advanced elsewhere meanwhile (another engine took the instance over):
                        # the cache may be a state this engine no longer follows.
                        record.state = None
                        return None
                try:
                    record.leased = await self.persistence.commit(self._prepare_change(transition, cached.revision))
                except (ConcurrentUpdateError, ChangeRefusedError):
                    # Another writer committed, or the database refused the change: reload and
                    # redo below (where a change refused again is recorded as a failed attempt).
                    record.state = None
                    transition = None
            finally:
                lock.release()
        if transition is None:
            transition = await self._record_outcome(instance_id, token_id, outcome, step, token)
            if transition is None:
                return None
        if self.event_bus is None:
            return self._publish(transition.state, state, token_id, record)
        return await self._after_commit(transition, previous=state, continue_from=token_id)

    async def _record_outcome(
        self, instance_id: UUID, token_id: str, outcome: _Outcome, step: Step, token: Token
    ) -> Transition | None:
        """Commit ``outcome`` of ``token``'s step through ``_transact`` (reloading and retrying on conflicts).

        A result the database refuses is recorded as a failed attempt instead: the step's retries
        and failure take their course, rather than the same commit being tried forever.
        """
        try:
            return await self._transact(
                instance_id, lambda live: _apply_outcome(live, token_id, outcome), now=outcome.execution.completed_at
            )
        except ChangeRefusedError as exc:
            if outcome.execution.status is StepStatus.FAILED:
                raise  # not even the failure could be stored: a bug, left to the logs
            failed = _refused(step, token, outcome, exc)
        return await self._transact(
            instance_id, lambda live: _apply_outcome(live, token_id, failed), now=failed.execution.completed_at
        )

    async def _run_transactional(
        self, definition: WorkflowDefinition, instance_id: UUID, token_id: str
    ) -> Transition | _Outcome | None:
        """Run a transactional step inside the transaction that records its success.

        The step writes its own rows through ``context.session``; they commit together with the
        step's result and the instance's next state, or not at all. Returns the committed
        transition, the outcome of a failed attempt (its writes rolled back; the caller records
        the failure like any other), or None when the token is no longer runnable.
        """
        record = self._record(instance_id)
        async with record:
            for _ in range(_MAX_COMMIT_ATTEMPTS):
                state = record.state
                if state is None:
                    state = await self.persistence.load_instance(instance_id)
                token = _ready_token(state, token_id)
                if token is None:
                    return None
                assert state is not None
                async with self.persistence.transaction() as checkpoint:
                    outcome = await self._execute(definition, state, token, session=checkpoint.session)
                    if outcome.execution.status is StepStatus.FAILED:
                        return outcome
                    transition = Transition(definition, state, self._clock())
                    live = transition.token(token_id)
                    assert live is not None
                    transition.step_succeeded(live, outcome.changes or Changes(), outcome.execution, outcome.chosen)
                    change = self._prepare_change(transition, state.revision)
                    try:
                        held = await checkpoint.commit(change)
                    except ConcurrentUpdateError:
                        record.state = None
                        continue
                    except ChangeRefusedError as exc:  # rolled back, the step's own writes with it
                        return _refused(definition.steps[token.step], token, outcome, exc)
                record.leased = held
                return transition
        raise ConcurrentUpdateError(f"instance {instance_id} kept changing; gave up after {_MAX_COMMIT_ATTEMPTS} tries")

    async def _execute(
        self, definition: WorkflowDefinition, state: WorkflowInstanceData, token: Token, session: Any = None
    ) -> _Outcome:
        step = definition.steps[token.step]
        before, context = _step_view(state, token, session)
        started = self._clock()
        timeout = getattr(step, "timeout", None)
        hooks = _hooks_of(step)
        try:
            if hooks.can_execute and not await step.can_execute(context):
                execution = StepExecution(
                    token.step,
                    StepStatus.SKIPPED,
                    started_at=started,
                    completed_at=self._clock(),
                    attempt=token.attempt,
                )
                return _Outcome(execution, Changes())
            if timeout is not None:
                async with asyncio.timeout(timeout):
                    result = await step.execute(context)
            else:
                result = await step.execute(context)
            changes = _storable_changes(before, context.data, result)
            recorded = copy_nested(result) if type(result) in NESTED_TYPES else result
            chosen = self._choose(definition, step, context, result) if step.step_type is StepType.GATEWAY else None
            if hooks.on_success:
                await step.on_success(context, result)
        except TimeoutError as exc:
            if timeout is None:  # raised by the step's own code, not by the engine's timeout
                return await self._failed(
                    definition, step, context, token, started, f"{type(exc).__name__}: {exc}", exc
                )
            # The step sees a plain TimeoutError; the history keeps where it was stuck (``exc``'s traceback).
            error = f"timed out after {timeout}s"
            return await self._failed(definition, step, context, token, started, error, TimeoutError(), trace=exc)
        except _GatewayError as exc:
            execution = StepExecution(
                token.step,
                StepStatus.FAILED,
                error=str(exc),
                started_at=started,
                completed_at=self._clock(),
                attempt=token.attempt,
                traceback=traceback_text(exc),
            )
            names = (state.id, definition.name, definition.version, token.step, token.attempt)
            log_failed_instance(*names, str(exc), execution.traceback or "")
            return _Outcome(execution, fatal=str(exc))
        except Exception as exc:  # noqa: BLE001 - any error of user code is a failed attempt
            return await self._failed(definition, step, context, token, started, f"{type(exc).__name__}: {exc}", exc)
        execution = StepExecution(
            token.step, StepStatus.SUCCEEDED, recorded, None, started, self._clock(), None, None, token.attempt
        )
        return _Outcome(execution, changes, chosen)

    async def _failed(
        self,
        definition: WorkflowDefinition,
        step: Step,
        context: WorkflowContext,
        token: Token,
        started: datetime,
        error: str,
        exc: Exception,
        *,
        trace: BaseException | None = None,
    ) -> _Outcome:
        """Record a failed attempt (``exc``, or ``trace`` for the traceback) and decide whether to retry; logs it."""
        try:
            await step.on_failure(context, exc)
        except Exception:
            logger.exception("on_failure of step %r raised", token.step)
        error = storable_text(error)  # an exception's message may hold a NUL character
        # The failed attempt's writes are dropped, here too: a value it left in its data may refer
        # back to the context (the exception it raised, through its traceback), a cycle the
        # garbage collector would never free (contexts are not tracked; see ``WorkflowContext``).
        context.data = {}
        execution = StepExecution(
            token.step,
            StepStatus.FAILED,
            error=error,
            started_at=started,
            completed_at=self._clock(),
            attempt=token.attempt,
            traceback=traceback_text(trace or exc),
        )
        retry_in = _retry_in(step, token)
        names = (context.instance_id, definition.name, definition.version, token.step, token.attempt, error)
        if retry_in is None:
            log_failed_instance(*names, execution.traceback or "")
        else:
            log_failed_attempt(*names, retry_in)
        return _Outcome(execution, retry_in=retry_in)

    @staticmethod
    def _choose(definition: WorkflowDefinition, step: Step, context: WorkflowContext, result: Any) -> list[str] | None:
        """The branches a gateway takes (None: evaluate the edge conditions as for any step)."""
        if step.step_type is not StepType.GATEWAY:
            return None
        graph = definition.graph
        targets = graph.targets_of(step.name)
        if getattr(step, "gateway_kind", "exclusive") == "parallel":
            return targets
        if result is None:
            matching = graph.get_next_steps(step.name, context)
            if not matching:
                raise _GatewayError(f"exclusive gateway {step.name!r} matched no branch")
            return matching[:1]
        if result not in targets:
            raise _GatewayError(
                f"exclusive gateway {step.name!r} chose {result!r}, which is not one of its branches {targets}"
            )
        return [result]

    # --- human tasks and signals --------------------------------------------------------------

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

        Reads the task once: the early answers (not found, refused) come from that read, the
        final ones from the commit's own check; nothing is read again afterwards.
        """
        task = await self.persistence.get_task(task_id)
        if task is None:
            raise TaskNotFoundError(f"task {task_id} not found")
        return await self._complete(task, actor, data)

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
            raise _definition_missing(self.registry, state, task.step_name)
        accepted = accepted_form_data(step, data)

        closures: list[TaskClosure] = []

        def apply(transition: Transition) -> bool:
            token = transition.token(task.token_id)
            if token is None or token.task_id != task.id:
                raise TaskAlreadyCompletedError(f"task {task.id} is no longer open")
            if transition.state.status.is_finished:
                raise WorkflowAlreadyCompletedError(f"instance {task.instance_id} is {transition.state.status.value}")
            closures.append(transition.task_completed(token, task, user_id, accepted, checked))
            return True

        transition = await self._transact(task.instance_id, apply, loaded=state)
        assert transition is not None
        await self._after_commit(transition, previous=state)
        # The last closure built is the committed one (earlier ones lost to a concurrent update).
        return TaskCompletion(closed_task(task, closures[-1]), _snapshot(transition.state))

    async def signal(self, instance_id: UUID, step_name: str, payload: Any = None) -> WorkflowInstanceData:
        """Deliver an outside event to the webhook step ``step_name``; its payload lands in the context."""
        state = await self._load_fresh(instance_id)
        definition = self._definition_of(state)
        step = definition.steps.get(step_name)
        if step is None or step.step_type is not StepType.WEBHOOK:
            raise InvalidTransitionError(f"workflow {state.workflow_name!r} has no webhook step {step_name!r}")
        ensure_storable("payload", payload)
        key: str = getattr(step, "callback_key", "webhook_data")

        def apply(transition: Transition) -> bool:
            if transition.state.status.is_finished:
                raise WorkflowAlreadyCompletedError(f"instance {instance_id} is {transition.state.status.value}")
            token = next(
                (t for t in transition.state.tokens if t.step == step_name and t.status is TokenStatus.WAITING),
                None,
            )
            if token is None:
                raise InvalidTransitionError(f"instance {instance_id} is not waiting for a signal at {step_name!r}")
            now = transition.now
            execution = StepExecution(
                step_name,
                StepStatus.SUCCEEDED,
                result=payload,
                started_at=now,
                completed_at=now,
                attempt=token.attempt,
            )
            transition.step_succeeded(token, Changes(set={key: payload}), execution, None)
            return True

        transition = await self._transact(instance_id, apply)
        assert transition is not None
        await self._after_commit(transition, previous=state)
        return _snapshot(transition.state)

    # --- cancel, retry, schedule --------------------------------------------------------------

    async def cancel_workflow(self, instance_id: UUID, reason: str) -> WorkflowInstanceData:
        """Cancel: running steps are stopped, open tasks cancelled, the reason recorded."""
        ensure_storable_text("reason", reason)
        state = await self._load_fresh(instance_id)
        record = self._record(instance_id)
        try:
            async with record:
                running = record.running

                def apply(transition: Transition) -> bool:
                    # A FAILED instance may still be cancelled: that is how an operator abandons it.
                    if transition.state.status in {WorkflowStatus.COMPLETED, WorkflowStatus.CANCELED}:
                        raise WorkflowAlreadyCompletedError(
                            f"instance {instance_id} is already {transition.state.status.value}; it cannot be cancelled"
                        )
                    transition.cancel(reason, list(running))
                    return True

                transition = await self._transact(instance_id, apply, locked=True)
                current = asyncio.current_task()
                for task in list(running.values()):
                    if task is not current:
                        task.cancel()
        finally:
            self._prune(instance_id, record)
        assert transition is not None
        await self._after_commit(transition, previous=state)
        return _snapshot(transition.state)

    async def retry_workflow(self, instance_id: UUID) -> WorkflowInstanceData:
        """Resume a FAILED instance from the step(s) where it stopped."""
        await self._load_fresh(instance_id)  # raises WorkflowInstanceNotFoundError for unknown ids

        def apply(transition: Transition) -> bool:
            if transition.state.status is not WorkflowStatus.FAILED:
                raise InvalidTransitionError(
                    f"only failed instances can be retried; {instance_id} is {transition.state.status.value}"
                )
            transition.retry()
            return True

        transition = await self._transact(instance_id, apply)
        assert transition is not None
        # previous=None: the failed token was already READY before, but nothing runs it until now.
        await self._after_commit(transition, previous=None)
        return _snapshot(transition.state)

    async def schedule_step(self, instance_id: UUID, step_name: str, delay: timedelta | None = None) -> None:
        """Add a runnable token on ``step_name`` (not before ``delay`` from now), durably."""
        state = await self._load_fresh(instance_id)
        definition = self._definition_of(state)
        if step_name not in definition.steps:
            raise InvalidTransitionError(f"workflow {state.workflow_name!r} has no step {step_name!r}")

        def apply(transition: Transition) -> bool:
            if transition.state.status.is_finished:
                raise WorkflowAlreadyCompletedError(f"instance {instance_id} is {transition.state.status.value}")
            transition.schedule(step_name, None if delay is None else transition.now + delay)
            return True

        transition = await self._transact(instance_id, apply)
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
        return _snapshot(await self._load_fresh(instance_id))

    def get_running_instances(self) -> list[WorkflowInstanceData]:
        """Instances that are running or waiting (among those this engine can see synchronously)."""
        return [
            _snapshot(state)
            for state in self._known_instances()
            if state.status in {WorkflowStatus.RUNNING, WorkflowStatus.WAITING}
        ]

    def get_all_instances(self) -> list[WorkflowInstanceData]:
        """Every instance this engine can see synchronously (all of them with in-memory persistence)."""
        return [_snapshot(state) for state in self._known_instances()]

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
        record.waiters.append(future)  # before reading: a change announced meanwhile wakes it too
        try:
            if not advanced_here:
                # Not advanced here: read what was committed (it may have settled elsewhere).
                state = await self._load_fresh(instance_id)
                if _settled(state):
                    return _snapshot(state)
            if timeout is None:
                return await future  # no timer to arm and cancel: a noticeable cost per instance
            async with asyncio.timeout(timeout):
                return await future
        finally:
            waiters = record.waiters
            if waiters is not None and future in waiters:
                waiters.remove(future)
            self._prune(instance_id, record)

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
            self._settle_record(state, record)

    def holds_lease(self, instance_id: UUID) -> bool:
        """True if this engine holds the instance's lease (a worker then runs its due tokens itself)."""
        record = self._runtime.get(instance_id.int)
        return record is not None and record.leased

    # --- plumbing -----------------------------------------------------------------------------

    def _record(self, instance_id: UUID) -> _Runtime:
        key = instance_id.int
        record = self._runtime.get(key)
        if record is None:
            record = self._runtime[key] = _Runtime()
        return record

    def _advancing(self, instance_id: UUID) -> bool:
        """True if this engine holds the instance and runs (or is about to run) one of its steps."""
        record = self._runtime.get(instance_id.int)
        return record is not None and record.leased and bool(record.running or record.pins or record.held)

    def _prune(self, instance_id: UUID, record: _Runtime) -> None:
        """Drop ``record`` if nothing about the instance is left to keep."""
        key = instance_id.int
        if self._runtime.get(key) is record and record.idle():
            del self._runtime[key]

    def _definition_of(self, state: WorkflowInstanceData) -> WorkflowDefinition:
        """The definition ``state`` runs; ``DefinitionMissingError`` (with a hint) if it is not registered."""
        try:
            return self.registry.get_definition(state.workflow_name, state.workflow_version)
        except WorkflowNotFoundError:
            raise _definition_missing(self.registry, state) from None

    async def _load_fresh(self, instance_id: UUID) -> WorkflowInstanceData:
        state = await self.persistence.load_instance(instance_id)
        if state is None:
            raise WorkflowInstanceNotFoundError(instance_id)
        return state

    async def _transact(
        self,
        instance_id: UUID,
        apply: Callable[[Transition], bool],
        *,
        locked: bool = False,
        loaded: WorkflowInstanceData | None = None,
        now: datetime | None = None,
    ) -> Transition | None:
        """Load, change, commit; on a concurrent update by another writer, reload and redo.

        ``apply`` changes the transition (False: nothing to commit). ``loaded`` is a state the
        caller just read: it is tried first instead of reading again (if it is stale, the
        commit's revision check refuses it and the loop reloads). ``now`` is the time of the
        first attempt (a step's completion time); retries read the clock. ``locked``: the caller
        holds the instance's lock already.
        """
        record = self._record(instance_id)
        lock = None if locked else record
        if lock is not None and not lock.try_acquire():
            await lock.acquire()
        try:
            for _ in range(_MAX_COMMIT_ATTEMPTS):
                cached = record.state
                if loaded is not None and (cached is None or cached.revision <= loaded.revision):
                    state: WorkflowInstanceData | None = loaded
                elif cached is not None:
                    state = cached
                else:
                    state = await self.persistence.load_instance(instance_id)
                loaded = None
                if state is None:
                    raise WorkflowInstanceNotFoundError(instance_id)
                transition = Transition(self._definition_of(state), state, now or self._clock())
                now = None
                if not apply(transition):
                    return None
                try:
                    held = await self.persistence.commit(self._prepare_change(transition, state.revision))
                except ConcurrentUpdateError:
                    record.state = None
                    continue
                record.leased = held
                return transition
        finally:
            if lock is not None:
                lock.release()
                self._prune(instance_id, record)
        raise ConcurrentUpdateError(f"instance {instance_id} kept changing; gave up after {_MAX_COMMIT_ATTEMPTS} tries")

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
        return InstanceChange(
            state,
            expected_revision,
            transition.executions,
            transition.opened_tasks,
            transition.closed_tasks,
            self.owner_id,
            lease_until,
            now,
        )

    def _settle_record(self, state: WorkflowInstanceData, record: _Runtime | None = None) -> bool:
        """Cache a committed state (or forget it) and wake waiters; True if this engine holds the lease.

        ``record``: the instance's record, if the caller has it (it must be the registered one).
        """
        if record is None:
            record = self._runtime.get(state.id.int)
            if record is None:
                return False
        if state.status is WorkflowStatus.RUNNING and record.leased:
            record.state = state
            return True
        record.state = None
        waiters = record.waiters
        if waiters and _settled(state):
            record.waiters = None
            for future in waiters:
                if not future.done():
                    future.set_result(_snapshot(state))
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
        if self.event_bus is None:
            return self._publish(state, previous, continue_from)
        held = self._settle_record(state)
        await self._emit(state.id, transition.events)
        if state.status is not WorkflowStatus.RUNNING:
            return None
        return self._dispatch_new_work(state, previous, continue_from, held)

    def _publish(
        self,
        state: WorkflowInstanceData,
        previous: WorkflowInstanceData | None,
        continue_from: str | None,
        record: _Runtime | None = None,
    ) -> str | None:
        """:meth:`_after_commit` without an event bus: nothing to await (``record``: as for ``_settle_record``)."""
        held = self._settle_record(state, record)
        if state.status is not WorkflowStatus.RUNNING:
            return None
        return self._dispatch_new_work(state, previous, continue_from, held)

    async def _emit(self, instance_id: UUID, events: list[tuple[str, dict[str, Any]]]) -> None:
        if self.event_bus is None:
            return
        for event_type, payload in events:
            try:
                await self.event_bus.emit(event_type, instance_id=instance_id, **payload)
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


def _definition_missing(
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


class _GatewayError(WorkflowsError):
    """A gateway could not pick a branch: the instance fails at once (retrying would not help)."""
