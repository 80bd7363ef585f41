"""The exceptions under their litestar-workflows 0.3 import path (``litestar_workflows.exceptions``).

The same classes as ``litestar_workflows.core.exceptions`` (and the package root); they also
accept the constructor arguments 0.3 documented.
"""

from __future__ import annotations

from litestar_workflows.core.exceptions import (
    ConcurrentUpdateError,
    HumanTaskError,
    InstanceAlreadyExistsError,
    InvalidTransitionError,
    StepExecutionError,
    TaskAlreadyCompletedError,
    TaskClaimedError,
    TaskNotFoundError,
    UnauthorizedTaskError,
    WorkflowAlreadyCompletedError,
    WorkflowInstanceNotFoundError,
    WorkflowNotFoundError,
    WorkflowsError,
    WorkflowValidationError,
)

__all__ = (
    "ConcurrentUpdateError",
    "HumanTaskError",
    "InstanceAlreadyExistsError",
    "InvalidTransitionError",
    "StepExecutionError",
    "TaskAlreadyCompletedError",
    "TaskClaimedError",
    "TaskNotFoundError",
    "UnauthorizedTaskError",
    "WorkflowAlreadyCompletedError",
    "WorkflowInstanceNotFoundError",
    "WorkflowNotFoundError",
    "WorkflowValidationError",
    "WorkflowsError",
)
