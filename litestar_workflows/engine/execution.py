"""One step attempt: run the step's code (hooks, timeout, retries), and say what happened as a command.

:func:`attempt` never raises for what the step's code does: success, a skip, a raised error or
a timeout all come back as the command to apply (``AttemptSucceeded``, ``GatewayChose``,
``AttemptFailed``, ``AttemptFatal``). Whether the command still applies is the reducer's call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar_workflows.core.context import StepExecution, WorkflowContext
from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import ChangeRefusedError
from litestar_workflows.core.kinds import GatewayChoiceError
from litestar_workflows.core.models import Token, WorkflowInstanceData
from litestar_workflows.core.protocols import Step
from litestar_workflows.core.types import StepStatus
from litestar_workflows.core.values import (
    NESTED_TYPES,
    NUL,
    PLAIN_TYPES,
    copy_nested,
    ensure_storable,
    private_copy,
    storable_text,
)
from litestar_workflows.engine.branches import Changes, view_of
from litestar_workflows.engine.commands import AttemptFailed, AttemptFatal, AttemptSucceeded, GatewayChose
from litestar_workflows.engine.failures import log_failed_attempt, log_failed_instance, traceback_text
from litestar_workflows.steps.base import BaseStep

__all__ = ("Outcome", "attempt", "refused", "retry_in")

logger = logging.getLogger("litestar_workflows.engine")

Outcome = AttemptSucceeded | GatewayChose | AttemptFailed | AttemptFatal
"""What one attempt produced, as the command that records it."""


@dataclass(slots=True, frozen=True)
class _Hooks:
    """Which optional hooks a step class overrides (calling a no-op coroutine costs per step)."""

    can_execute: bool
    on_success: bool


_HOOKS: dict[type[Any], _Hooks] = {}


def _hooks_of(step: Step) -> _Hooks:
    kind = type(step)
    hooks = _HOOKS.get(kind)
    if hooks is None:
        can_execute = getattr(kind, "can_execute", None) is not BaseStep.can_execute
        on_success = getattr(kind, "on_success", None) is not BaseStep.on_success
        hooks = _HOOKS[kind] = _Hooks(can_execute, on_success)
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


def retry_in(step: Step, token: Token) -> float | None:
    """Seconds until a failed attempt of ``token``'s step runs again; None when its retries are spent."""
    attempt_in_budget = token.attempt - token.retry_base + 1
    if attempt_in_budget > int(getattr(step, "max_retries", 0)):
        return None
    backoff_for = getattr(step, "backoff_for", None)
    return float(backoff_for(attempt_in_budget)) if backoff_for is not None else 0.0


def refused(step: Step, token: Token, outcome: Outcome, exc: ChangeRefusedError) -> AttemptFailed:
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
    return AttemptFailed(token.id, failed, retry_in(step, token))


def _step_view(state: WorkflowInstanceData, token: Token, session: Any) -> tuple[dict[str, Any], WorkflowContext]:
    """The data the step of ``token`` starts from, and the context it runs with (over a private copy of it).

    ``before`` holds committed objects, which nothing changes in place; the step gets copies of
    its dicts and lists too, so what it changes in place (even in an attempt that then fails)
    shows up as a change of its own data and nowhere else.
    """
    before = view_of(state, token) if token.delta or token.removed else state.context.data
    source = state.context
    context = WorkflowContext(  # what ``step_context`` builds, without its keyword handling
        source.workflow_id,
        source.instance_id,
        private_copy(before),
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


async def attempt(
    definition: WorkflowDefinition,
    state: WorkflowInstanceData,
    token: Token,
    clock: Callable[[], datetime],
    session: Any = None,
) -> Outcome:
    """Run ``token``'s step once (``session``: the transaction of a transactional step)."""
    step = definition.steps[token.step]
    before, context = _step_view(state, token, session)
    started = clock()
    timeout = getattr(step, "timeout", None)
    hooks = _hooks_of(step)
    kind = definition.graph.kinds[token.step]
    try:
        if hooks.can_execute and not await step.can_execute(context):
            skipped = StepExecution(
                token.step, StepStatus.SKIPPED, started_at=started, completed_at=clock(), attempt=token.attempt
            )
            return AttemptSucceeded(token.id, skipped, Changes())
        if timeout is not None:
            async with asyncio.timeout(timeout):
                result = await step.execute(context)
        else:
            result = await step.execute(context)
        changes = _storable_changes(before, context.data, result)
        recorded = copy_nested(result) if type(result) in NESTED_TYPES else result
        chosen = kind.choose(definition.graph, step, context, result)
        if hooks.on_success:
            await step.on_success(context, result)
    except TimeoutError as exc:
        if timeout is None:  # raised by the step's own code, not by the engine's timeout
            return await _failed(definition, step, context, token, started, clock, exc)
        # The step sees a plain TimeoutError; the history keeps where it was stuck (``exc``'s traceback).
        error = f"timed out after {timeout}s"
        return await _failed(definition, step, context, token, started, clock, TimeoutError(), error, exc)
    except GatewayChoiceError as exc:
        return _fatal(definition, state, token, started, clock, exc)
    except Exception as exc:  # noqa: BLE001 - any error of user code is a failed attempt
        return await _failed(definition, step, context, token, started, clock, exc)
    execution = StepExecution(
        token.step, StepStatus.SUCCEEDED, recorded, None, started, clock(), None, None, token.attempt
    )
    if chosen is not None:
        return GatewayChose(token.id, execution, changes, tuple(chosen))
    return AttemptSucceeded(token.id, execution, changes)


def _fatal(
    definition: WorkflowDefinition,
    state: WorkflowInstanceData,
    token: Token,
    started: datetime,
    clock: Callable[[], datetime],
    exc: GatewayChoiceError,
) -> AttemptFatal:
    execution = StepExecution(
        token.step,
        StepStatus.FAILED,
        error=str(exc),
        started_at=started,
        completed_at=clock(),
        attempt=token.attempt,
        traceback=traceback_text(exc),
    )
    names = (state.id, definition.name, definition.version, token.step, token.attempt)
    log_failed_instance(*names, str(exc), execution.traceback or "")
    return AttemptFatal(token.id, execution, str(exc))


async def _failed(
    definition: WorkflowDefinition,
    step: Step,
    context: WorkflowContext,
    token: Token,
    started: datetime,
    clock: Callable[[], datetime],
    exc: Exception,
    error: str | None = None,
    trace: BaseException | None = None,
) -> AttemptFailed:
    """Record a failed attempt (``exc``, or ``trace`` for the traceback) and decide whether to retry; logs it."""
    try:
        await step.on_failure(context, exc)
    except Exception:
        logger.exception("on_failure of step %r raised", token.step)
    # An exception's message may hold a NUL character.
    error = storable_text(error if error is not None else f"{type(exc).__name__}: {exc}")
    # The failed attempt's writes are dropped, here too: a value it left in its data may refer
    # back to the context (the exception it raised, through its traceback), a cycle the
    # garbage collector would never free (contexts are not tracked; see ``WorkflowContext``).
    context.data = {}
    execution = StepExecution(
        token.step,
        StepStatus.FAILED,
        error=error,
        started_at=started,
        completed_at=clock(),
        attempt=token.attempt,
        traceback=traceback_text(trace or exc),
    )
    wait = retry_in(step, token)
    names = (context.instance_id, definition.name, definition.version, token.step, token.attempt, error)
    if wait is None:
        log_failed_instance(*names, execution.traceback or "")
    else:
        log_failed_attempt(*names, wait)
    return AttemptFailed(token.id, execution, wait)
