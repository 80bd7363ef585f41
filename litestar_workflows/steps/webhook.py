"""A step that waits for an outside signal (a webhook call) and stores its payload."""

from __future__ import annotations

from litestar_workflows.core.types import StepType
from litestar_workflows.steps.base import BaseStep

__all__ = ("WebhookStep",)


class WebhookStep(BaseStep):
    """Wait until ``engine.signal(instance_id, name, payload)``; the payload lands in ``callback_key``."""

    step_type: StepType = StepType.WEBHOOK

    def __init__(self, name: str, callback_key: str = "webhook_payload", description: str = "") -> None:
        super().__init__(name, description or None)
        self.callback_key = callback_key
