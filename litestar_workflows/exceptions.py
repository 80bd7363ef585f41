"""The exceptions under their litestar-workflows 0.3 import path (``litestar_workflows.exceptions``).

Every exception the package raises: the same classes as ``litestar_workflows.core.exceptions``
(and the package root). They also accept the constructor arguments 0.3 documented.
"""

from __future__ import annotations

from litestar_workflows.core.exceptions import (
    AccessDeniedError,
    ChangeRefusedError,
    ConcurrentUpdateError,
    DatabaseUnavailableError,
    DefinitionChangedError,
    DefinitionMissingError,
    HumanTaskError,
    InstanceAlreadyExistsError,
    InvalidTransitionError,
    NotAuthenticatedError,
    SchemaNotReadyError,
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
    "AccessDeniedError",
    "ChangeRefusedError",
    "ConcurrentUpdateError",
    "DatabaseUnavailableError",
    "DefinitionChangedError",
    "DefinitionMissingError",
    "HumanTaskError",
    "InstanceAlreadyExistsError",
    "InvalidTransitionError",
    "NotAuthenticatedError",
    "SchemaNotReadyError",
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
