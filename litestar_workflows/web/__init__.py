"""The REST API: schemas, controllers, identity and error mapping (mounted by ``WorkflowPlugin``)."""

from __future__ import annotations

from litestar_workflows.web.api import WorkflowApi
from litestar_workflows.web.identity import ANONYMOUS, Identity, IdentityResolver, can_act_on, default_identity_resolver

__all__ = ("ANONYMOUS", "Identity", "IdentityResolver", "WorkflowApi", "can_act_on", "default_identity_resolver")
