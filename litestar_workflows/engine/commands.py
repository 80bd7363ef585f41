"""Commands: every event that changes an instance, as a value.

``transitions.apply_command(definition, state, command, now)`` is the one function that applies
them. A command aimed at a token names the event its step must accept (``event``, one of the
names in ``core.kinds``); instance-wide commands (start, cancel, retry, schedule) have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from litestar_workflows.core.context import StepExecution
from litestar_workflows.core.kinds import ATTEMPT, CHILD, CHOICE, COMPLETION, SIGNAL, TIMER
from litestar_workflows.core.models import HumanTaskData
from litestar_workflows.core.task_checks import TaskActor
from litestar_workflows.engine.branches import Changes

__all__ = (
    "MACHINE_PROGRESS",
    "AttemptFailed",
    "AttemptFatal",
    "AttemptSucceeded",
    "Cancel",
    "ChildFinished",
    "Command",
    "GatewayChose",
    "NotCurrent",
    "Retry",
    "Schedule",
    "SignalReceived",
    "Start",
    "TaskCompleted",
    "TimerDue",
    "TokenCommand",
)


class NotCurrent(Exception):
    """The token a step attempt ran for is no longer runnable (cancelled, failed, advanced elsewhere).

    Not an error of the caller's: the attempt's result is dropped and nothing is committed.
    """


@dataclass(frozen=True, slots=True)
class Start:
    """Place the first token on the initial step."""


@dataclass(frozen=True, slots=True)
class TokenCommand:
    """A command for the step a token is on; ``event`` is what that step's kind must accept."""

    event: ClassVar[str] = ATTEMPT
    token_id: str


@dataclass(frozen=True, slots=True)
class AttemptSucceeded(TokenCommand):
    """The step's code ran and returned: its writes apply, the edge conditions pick what follows."""

    execution: StepExecution
    changes: Changes


@dataclass(frozen=True, slots=True)
class GatewayChose(TokenCommand):
    """A gateway's code ran and picked ``branches`` (several: a fork)."""

    event: ClassVar[str] = CHOICE
    execution: StepExecution
    changes: Changes
    branches: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AttemptFailed(TokenCommand):
    """An attempt raised or timed out: retry after ``retry_in`` seconds, or (None) fail the instance."""

    execution: StepExecution
    retry_in: float | None


@dataclass(frozen=True, slots=True)
class AttemptFatal(TokenCommand):
    """An attempt failed in a way no retry can mend (a gateway that matched no branch): fail the instance."""

    execution: StepExecution
    error: str


@dataclass(frozen=True, slots=True)
class TimerDue(TokenCommand):
    """A timer's due time passed: the token moves on."""

    event: ClassVar[str] = TIMER


@dataclass(frozen=True, slots=True)
class TaskCompleted(TokenCommand):
    """A person completed ``task`` with the ``accepted`` form data.

    ``actor``: the user the commit checks against the task as stored (None: a trusted call).
    """

    event: ClassVar[str] = COMPLETION
    task: HumanTaskData
    user_id: str
    accepted: dict[str, Any]
    actor: TaskActor | None = None


@dataclass(frozen=True, slots=True)
class SignalReceived:
    """An outside signal for the waiting step ``step_name``; its kind says where ``payload`` lands."""

    event: ClassVar[str] = SIGNAL
    step_name: str
    payload: Any


@dataclass(frozen=True, slots=True)
class ChildFinished(TokenCommand):
    """A child instance the token's step started finished: merge ``output``, or fail with ``error``."""

    event: ClassVar[str] = CHILD
    output: dict[str, Any]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel the instance; ``running``: tokens whose step was executing at that moment."""

    reason: str
    running: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Retry:
    """Resume a FAILED instance: runnable tokens run again, waiting ones reopen their tasks."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """Add a runnable token on ``step`` (an operator's intervention), not before ``not_before``."""

    step: str
    not_before: datetime | None = None


Command = (
    Start
    | AttemptSucceeded
    | GatewayChose
    | AttemptFailed
    | AttemptFatal
    | TimerDue
    | TaskCompleted
    | SignalReceived
    | ChildFinished
    | Cancel
    | Retry
    | Schedule
)
"""Every command ``apply_command`` accepts."""

MACHINE_PROGRESS = (AttemptSucceeded, GatewayChose, AttemptFailed, AttemptFatal, TimerDue, ChildFinished)
"""Commands the engine gives itself as an instance runs; nobody waits on their commit.

Every other command comes from a caller who is answered once it is committed (a start, a
completion, a signal, a cancel, a retry, a schedule): its commit is flushed before the answer
(``Transition.flushes``).
"""
