"""The gateways under their litestar-workflows 0.3 import path (``litestar_workflows.steps.gateway``).

The same classes as ``litestar_workflows.steps.gateways``.
"""

from __future__ import annotations

from litestar_workflows.steps.gateways import ExclusiveGateway, ParallelGateway

__all__ = ("ExclusiveGateway", "ParallelGateway")
