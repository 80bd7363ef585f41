"""``WorkflowGraph`` lives in ``core.graph`` (definitions validate with it); re-exported for the reference path."""

from __future__ import annotations

from litestar_workflows.core.graph import WorkflowGraph

__all__ = ("WorkflowGraph",)
