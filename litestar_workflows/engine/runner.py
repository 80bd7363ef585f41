"""Running tokens: what a dispatcher calls for a runnable token, and what keeps its branch going.

One token's turn: load (or take the cached) committed state, check the token is still runnable
and due, then either fire it (a kind that runs no code: a timer) or run one attempt of its step
(``execution.attempt``; a transactional step inside the transaction that records it), and commit
the resulting command through the runtime. The branch's next token runs inline in the same task.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import (
    ChangeRefusedError,
    ConcurrentUpdateError,
    DatabaseUnavailableError,
    DefinitionMissingError,
)
from litestar_workflows.core.models import Token, WorkflowInstanceData
from litestar_workflows.core.protocols import Step
from litestar_workflows.core.types import StepStatus, TokenStatus, WorkflowStatus
from litestar_workflows.engine.commands import NotCurrent, TimerDue
from litestar_workflows.engine.draft import Transition
from litestar_workflows.engine.execution import Outcome, attempt, refused
from litestar_workflows.engine.records import InstanceRecord, yield_to_loop
from litestar_workflows.engine.roles import TokenRun
from litestar_workflows.engine.runtime import MAX_COMMIT_ATTEMPTS, InstanceRuntime, definition_missing
from litestar_workflows.engine.transitions import apply_command

__all__ = ("STEPS_BETWEEN_YIELDS", "TokenRunner")

logger = logging.getLogger("litestar_workflows.engine")

STEPS_BETWEEN_YIELDS = 8
"""A branch whose steps never suspend (in memory, no I/O) yields to the event loop this often:
after every step, the hand-over to the loop cost more than short steps themselves."""


def _ready_token(state: WorkflowInstanceData | None, token_id: str) -> Token | None:
    """The READY token ``token_id`` of a running instance, or None."""
    if state is None or state.status is not WorkflowStatus.RUNNING:
        return None
    for token in state.tokens:
        if token.id == token_id:
            return token if token.status is TokenStatus.READY else None
    return None


class TokenRunner(InstanceRuntime):
    """``run_token`` and one token's turn (a base of ``LocalExecutionEngine``)."""

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
        record.pins += 1
        try:
            return await self._run_branch(instance_id, token_id, record)
        finally:
            record.pins -= 1
            self._prune(instance_id, record)

    async def _held_for(self, instance_id: UUID, token_id: str) -> InstanceRecord | TokenRun:
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

    async def _run_branch(self, instance_id: UUID, token_id: str, record: InstanceRecord) -> TokenRun:
        """Run ``token_id`` and the branch after it; ``RAN`` if at least its first step ran."""
        task = asyncio.current_task()
        assert task is not None
        current: str | None = token_id
        running = record.running
        ran = TokenRun.NOTHING_TO_RUN
        steps = 0
        try:
            while current is not None:
                running[current] = task
                try:
                    following = await self._run_one(instance_id, current, record)
                finally:
                    running.pop(current, None)
                if isinstance(following, TokenRun):  # NOTHING_TO_RUN: the token was not runnable
                    break
                ran = TokenRun.RAN
                current = following
                steps += 1
                if current is not None and steps % STEPS_BETWEEN_YIELDS == 0:
                    await yield_to_loop()  # a long chain of steps that never await lets the app breathe
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
        return ran

    async def _run_one(self, instance_id: UUID, token_id: str, record: InstanceRecord) -> str | TokenRun | None:
        """Run one token's turn and commit it.

        Returns the branch's next token to run inline, None at the end of the branch, or
        ``NOTHING_TO_RUN`` when the token had nothing to run (gone, not ready, not due yet).
        """
        state = record.state
        if state is None:
            state = await self.persistence.load_instance(instance_id)
        token = _ready_token(state, token_id)
        if state is None or token is None:
            return TokenRun.NOTHING_TO_RUN
        if token.not_before is not None and token.not_before > self._clock():
            self.dispatcher.dispatch(instance_id, token_id, token.not_before)
            return TokenRun.NOTHING_TO_RUN
        try:
            definition = self.registry.get_definition(state.workflow_name, state.workflow_version)
            step = definition.steps[token.step]
        except LookupError:  # a version no longer registered, or a step its definition lost
            raise definition_missing(self.registry, state, token.step) from None
        kind = definition.graph.kinds[token.step]
        transition: Transition | None
        if not kind.runs_code:
            transition = await self._transact(instance_id, TimerDue(token_id), loaded=state)
        elif kind.transactional:
            ran = await self._run_transactional(definition, instance_id, token_id)
            if ran is None:
                return TokenRun.NOTHING_TO_RUN  # no longer runnable, found under the instance's lock
            if isinstance(ran, Transition):
                transition = ran
            else:  # a failed attempt: its writes were rolled back; record the failure
                transition = await self._record_outcome(instance_id, ran, step, token, None)
        else:
            outcome = await attempt(definition, state, token, self._clock)
            transition = await self._record_outcome(instance_id, outcome, step, token, state)
        if transition is None:
            return None
        return await self._after_commit(transition, previous=state, continue_from=token_id)

    async def _record_outcome(
        self, instance_id: UUID, outcome: Outcome, step: Step, token: Token, loaded: WorkflowInstanceData | None
    ) -> Transition | None:
        """Commit ``outcome`` of ``token``'s step (reloading and retrying on conflicts).

        A result the database refuses is recorded as a failed attempt instead: the step's retries
        and failure take their course, rather than the same commit being tried forever.
        """
        try:
            return await self._transact(instance_id, outcome, loaded=loaded, now=outcome.execution.completed_at)
        except ChangeRefusedError as exc:
            if outcome.execution.status is StepStatus.FAILED:
                raise  # not even the failure could be stored: a bug, left to the logs
            failed = refused(step, token, outcome, exc)
        return await self._transact(instance_id, failed, now=failed.execution.completed_at)

    async def _run_transactional(
        self, definition: WorkflowDefinition, instance_id: UUID, token_id: str
    ) -> Transition | Outcome | None:
        """Run a transactional step inside the transaction that records its success.

        The step writes its own rows through ``context.session``; they commit together with the
        step's result and the instance's next state, or not at all. Returns the committed
        transition, the outcome of a failed attempt (its writes rolled back; the caller records
        the failure like any other), or None when the token is no longer runnable.
        """
        record = self._record(instance_id)
        async with record:
            for _ in range(MAX_COMMIT_ATTEMPTS):
                state = record.state or await self.persistence.load_instance(instance_id)
                token = _ready_token(state, token_id)
                if state is None or token is None:
                    return None
                async with self.persistence.transaction() as checkpoint:
                    outcome = await attempt(definition, state, token, self._clock, session=checkpoint.session)
                    if outcome.execution.status is StepStatus.FAILED:
                        return outcome
                    try:
                        transition = apply_command(definition, state, outcome, self._clock())
                    except NotCurrent:
                        return None
                    try:
                        held = await self._commit(transition, state.revision, checkpoint)
                    except ConcurrentUpdateError:
                        record.state = None
                        continue
                    except ChangeRefusedError as exc:  # rolled back, the step's own writes with it
                        return refused(definition.steps[token.step], token, outcome, exc)
                record.leased = held
                return transition
        raise ConcurrentUpdateError(f"instance {instance_id} kept changing; gave up after {MAX_COMMIT_ATTEMPTS} tries")
