"""A step that waits for a duration, durably: the due time is stored, not slept on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import ClassVar

from litestar_workflows.core.context import WorkflowContext
from litestar_workflows.core.kinds import TIMER_WAIT, StepKind
from litestar_workflows.core.types import StepType
from litestar_workflows.steps.base import BaseStep

__all__ = ("TimerStep",)


class TimerStep(BaseStep):
    """Wait ``duration`` (a timedelta or a function of the context) before continuing.

    The engine stores the due time when the step is reached; a restart before it is due keeps
    waiting, and a restart after it fires at once.
    """

    step_type: StepType = StepType.TIMER
    step_kind: ClassVar[StepKind] = TIMER_WAIT

    def __init__(
        self,
        name: str,
        duration: timedelta | Callable[[WorkflowContext], timedelta],
        description: str = "",
    ) -> None:
        super().__init__(name, description or None)
        self.duration = duration

    def get_duration(self, context: WorkflowContext) -> timedelta:
        """The wait for this context."""
        return self.duration(context) if callable(self.duration) else self.duration
