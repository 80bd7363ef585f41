"""litestar-workflows: durable business workflows, machine steps and human approvals, in Litestar."""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from litestar_workflows.core import (
    Edge,
    HumanTaskData,
    HumanTaskError,
    Identity,
    InvalidTransitionError,
    Step,
    StepExecution,
    StepExecutionError,
    StepStatus,
    StepType,
    TaskAlreadyCompletedError,
    TaskClaimedError,
    TaskNotFoundError,
    TaskStatus,
    UnauthorizedTaskError,
    Workflow,
    WorkflowAlreadyCompletedError,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowGraph,
    WorkflowInstanceData,
    WorkflowInstanceNotFoundError,
    WorkflowNotFoundError,
    WorkflowsError,
    WorkflowStatus,
    WorkflowValidationError,
)
from litestar_workflows.core.exceptions import (
    AccessDeniedError,
    ChangeRefusedError,
    ConcurrentUpdateError,
    DatabaseUnavailableError,
    DefinitionChangedError,
    DefinitionMissingError,
    InstanceAlreadyExistsError,
    NotAuthenticatedError,
    SchemaNotReadyError,
)
from litestar_workflows.engine import (
    EventBus,
    InMemoryEventBus,
    InMemoryPersistence,
    InProcessDispatcher,
    LocalExecutionEngine,
    StepDispatcher,
    WorkflowPersistence,
    WorkflowRegistry,
)
from litestar_workflows.steps import (
    BaseHumanStep,
    BaseMachineStep,
    BaseStep,
    ConditionalGroup,
    ExclusiveGateway,
    ParallelGateway,
    ParallelGroup,
    SequentialGroup,
    StepGroup,
    SubWorkflowStep,
    TimerStep,
    TransactionalStep,
    WebhookStep,
)

if TYPE_CHECKING:
    from litestar_workflows.config import SQLPersistenceConfig, WorkflowEngineConfig, WorkflowPluginConfig
    from litestar_workflows.plugin import WorkflowPlugin
    from litestar_workflows.ui.config import UIConfig

__version__ = "0.4.0"
__project__ = "litestar-workflows"
"""The distribution's name (litestar-workflows 0.3 exported it too)."""

# A library's loggers get no output of their own: records go wherever the app's logging sends them
# (Litestar configures it), and a script that configures none is not written to by the library.
logging.getLogger("litestar_workflows").addHandler(logging.NullHandler())

# The plugin pulls in Litestar; code that only runs the engine (workers, scripts, tests) does not
# need it, and tens of thousands of imported objects slow every full garbage collection after.
_LAZY = {
    "SQLPersistenceConfig": "litestar_workflows.config",
    "UIConfig": "litestar_workflows.ui.config",
    "WorkflowEngineConfig": "litestar_workflows.config",
    "WorkflowPlugin": "litestar_workflows.plugin",
    "WorkflowPluginConfig": "litestar_workflows.config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = (
    "AccessDeniedError",
    "BaseHumanStep",
    "BaseMachineStep",
    "BaseStep",
    "ChangeRefusedError",
    "ConcurrentUpdateError",
    "ConditionalGroup",
    "DatabaseUnavailableError",
    "DefinitionChangedError",
    "DefinitionMissingError",
    "Edge",
    "EventBus",
    "ExclusiveGateway",
    "HumanTaskData",
    "HumanTaskError",
    "Identity",
    "InMemoryEventBus",
    "InMemoryPersistence",
    "InProcessDispatcher",
    "InstanceAlreadyExistsError",
    "InvalidTransitionError",
    "LocalExecutionEngine",
    "NotAuthenticatedError",
    "ParallelGateway",
    "ParallelGroup",
    "SQLPersistenceConfig",
    "SchemaNotReadyError",
    "SequentialGroup",
    "Step",
    "StepDispatcher",
    "StepExecution",
    "StepExecutionError",
    "StepGroup",
    "StepStatus",
    "StepType",
    "SubWorkflowStep",
    "TaskAlreadyCompletedError",
    "TaskClaimedError",
    "TaskNotFoundError",
    "TaskStatus",
    "TimerStep",
    "TransactionalStep",
    "UIConfig",
    "UnauthorizedTaskError",
    "WebhookStep",
    "Workflow",
    "WorkflowAlreadyCompletedError",
    "WorkflowContext",
    "WorkflowDefinition",
    "WorkflowEngineConfig",
    "WorkflowGraph",
    "WorkflowInstanceData",
    "WorkflowInstanceNotFoundError",
    "WorkflowNotFoundError",
    "WorkflowPersistence",
    "WorkflowPlugin",
    "WorkflowPluginConfig",
    "WorkflowRegistry",
    "WorkflowStatus",
    "WorkflowValidationError",
    "WorkflowsError",
    "__project__",
    "__version__",
)
