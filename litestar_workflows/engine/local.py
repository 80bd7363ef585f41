"""The engine under its litestar-workflows 0.3 import path (``litestar_workflows.engine.local``).

The same class as ``litestar_workflows.LocalExecutionEngine``; see docs/upgrading.md for what
behaves differently from 0.3's engine.
"""

from __future__ import annotations

from litestar_workflows.engine import LocalExecutionEngine

__all__ = ("LocalExecutionEngine",)
