"""Durable persistence on SQLAlchemy / advanced-alchemy: models, row codec, ``SQLAlchemyPersistence``."""

from __future__ import annotations

from litestar_workflows.db.models import (
    HumanTaskModel,
    StepExecutionModel,
    WorkflowDefinitionModel,
    WorkflowInstanceModel,
)
from litestar_workflows.db.persistence import SQLAlchemyPersistence

__all__ = (
    "HumanTaskModel",
    "SQLAlchemyPersistence",
    "StepExecutionModel",
    "WorkflowDefinitionModel",
    "WorkflowInstanceModel",
)
