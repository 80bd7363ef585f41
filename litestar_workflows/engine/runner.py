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
from litestar_workflows.engine.runtime import MAX_COMMIT_ATTEMPTS, InstanceRuntime, definition_missing
from litestar_workflows.engine.subworkflows import link_family, needs_linking
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

    async def run_token(self, instance_id: UUID, token_id: str) -> None:
        """Run the step of a committed READY token, then keep going along its branch.

        This is what a dispatcher calls. Tokens that are gone, not runnable, not yet due, or
        already running in this process are ignored, so duplicate dispatches are harmless.
        """
        record = self._record(instance_id)
        if token_id in record.running:
            return
        if not record.leased:
            now = self._clock()
            acquired = await self.persistence.acquire_lease(instance_id, self.owner_id, now, self._lease_until(now))
            record = self._record(instance_id)  # the record may have been dropped meanwhile
            if not acquired:
                self._prune(instance_id, record)
                return  # another live engine advances this instance; it will see this token
            record.leased = True
            record.state = None  # the state may have moved while unleased
        record.pins += 1
        try:
            await self._run_branch(instance_id, token_id, record)
        finally:
            record.pins -= 1
            self._prune(instance_id, record)

    async def _run_branch(self, instance_id: UUID, token_id: str, record: InstanceRecord) -> None:
        task = asyncio.current_task()
        assert task is not None
        current: str | None = token_id
        running = record.running
        steps = 0
        try:
            while current is not None:
                running[current] = task
                try:
                    following = await self._run_one(instance_id, current, record)
                finally:
                    running.pop(current, None)
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

    async def _run_one(self, instance_id: UUID, token_id: str, record: InstanceRecord) -> str | None:
        """Run one token's turn and commit it; returns the branch's next token to run inline."""
        state = record.state
        if state is None:
            state = await self.persistence.load_instance(instance_id)
        token = _ready_token(state, token_id)
        if state is None or token is None:
            return None
        if token.not_before is not None and token.not_before > self._clock():
            self.dispatcher.dispatch(instance_id, token_id, token.not_before)
            return None
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
            if ran is None or isinstance(ran, Transition):
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
                        if needs_linking(transition):
                            await link_family(self, transition)
                        held = await checkpoint.commit(self._prepare_change(transition, state.revision))
                    except ConcurrentUpdateError:
                        record.state = None
                        continue
                    except ChangeRefusedError as exc:  # rolled back, the step's own writes with it
                        return refused(definition.steps[token.step], token, outcome, exc)
                record.leased = held
                return transition
        raise ConcurrentUpdateError(f"instance {instance_id} kept changing; gave up after {MAX_COMMIT_ATTEMPTS} tries")
