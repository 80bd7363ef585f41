"""Step base classes and the built-in steps."""

from __future__ import annotations

from litestar_workflows.steps.base import BaseHumanStep, BaseMachineStep, BaseStep, RetryBackoff
from litestar_workflows.steps.gateways import ExclusiveGateway, ParallelGateway
from litestar_workflows.steps.groups import ConditionalGroup, ParallelGroup, SequentialGroup, StepGroup
from litestar_workflows.steps.subworkflow import SubWorkflowStep
from litestar_workflows.steps.timer import TimerStep
from litestar_workflows.steps.transactional import TransactionalStep
from litestar_workflows.steps.webhook import WebhookStep

__all__ = (
    "BaseHumanStep",
    "BaseMachineStep",
    "BaseStep",
    "ConditionalGroup",
    "ExclusiveGateway",
    "ParallelGateway",
    "ParallelGroup",
    "RetryBackoff",
    "SequentialGroup",
    "StepGroup",
    "SubWorkflowStep",
    "TimerStep",
    "TransactionalStep",
    "WebhookStep",
)
