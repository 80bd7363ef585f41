"""Core types: enums, context, definition, protocols, instance model, exceptions (no I/O)."""

from __future__ import annotations

from litestar_workflows.core.context import StepExecution, WorkflowContext
from litestar_workflows.core.definition import Edge, WorkflowDefinition
from litestar_workflows.core.exceptions import (
    ChangeRefusedError,
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
from litestar_workflows.core.graph import WorkflowGraph
from litestar_workflows.core.identity import ANONYMOUS, Identity, can_act_on, is_admin
from litestar_workflows.core.models import BranchData, HumanTaskData, Token, WorkflowInstanceData
from litestar_workflows.core.protocols import Step, Workflow
from litestar_workflows.core.types import StepStatus, StepType, TaskStatus, TokenStatus, WorkflowStatus

__all__ = (
    "ANONYMOUS",
    "BranchData",
    "ChangeRefusedError",
    "ConcurrentUpdateError",
    "Edge",
    "HumanTaskData",
    "HumanTaskError",
    "Identity",
    "InstanceAlreadyExistsError",
    "InvalidTransitionError",
    "Step",
    "StepExecution",
    "StepExecutionError",
    "StepStatus",
    "StepType",
    "TaskAlreadyCompletedError",
    "TaskClaimedError",
    "TaskNotFoundError",
    "TaskStatus",
    "Token",
    "TokenStatus",
    "UnauthorizedTaskError",
    "Workflow",
    "WorkflowAlreadyCompletedError",
    "WorkflowContext",
    "WorkflowDefinition",
    "WorkflowGraph",
    "WorkflowInstanceData",
    "WorkflowInstanceNotFoundError",
    "WorkflowNotFoundError",
    "WorkflowStatus",
    "WorkflowValidationError",
    "WorkflowsError",
    "can_act_on",
    "is_admin",
)
