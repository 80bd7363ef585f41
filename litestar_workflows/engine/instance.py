"""The instance model under its litestar-workflows 0.3 import path (``litestar_workflows.engine.instance``)."""

from __future__ import annotations

from litestar_workflows.core.models import WorkflowInstanceData

__all__ = ("WorkflowInstance", "WorkflowInstanceData")

WorkflowInstance = WorkflowInstanceData
"""0.3's name for the instance model."""
