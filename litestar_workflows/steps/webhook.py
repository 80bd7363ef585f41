"""A step that waits for an outside signal (a webhook call) and stores its payload."""

from __future__ import annotations

from typing import Any, ClassVar

from litestar_workflows.core.context import WorkflowContext
from litestar_workflows.core.kinds import SIGNAL_WAIT, StepKind
from litestar_workflows.core.types import StepType
from litestar_workflows.steps.base import BaseStep

__all__ = ("WebhookStep",)


class WebhookStep(BaseStep):
    """Wait until ``engine.signal(instance_id, name, payload)``; the payload lands in ``callback_key``.

    The default key, ``webhook_data``, is the one litestar-workflows 0.3 used.
    """

    step_type: StepType = StepType.WEBHOOK
    step_kind: ClassVar[StepKind] = SIGNAL_WAIT

    def __init__(self, name: str, callback_key: str = "webhook_data", description: str = "") -> None:
        super().__init__(name, description or None)
        self.callback_key = callback_key

    async def execute(self, context: WorkflowContext) -> Any:
        """The payload stored under ``callback_key`` (None before the signal came)."""
        return context.get(self.callback_key)
