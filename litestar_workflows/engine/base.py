"""The engine protocol under its litestar-workflows 0.3 import path (``litestar_workflows.engine.base``)."""

from __future__ import annotations

from litestar_workflows.core.protocols import ExecutionEngine

__all__ = ("ExecutionEngine",)
