"""The execution engine: registry, persistence boundary, dispatch, transitions, the engine."""

from __future__ import annotations

from litestar_workflows.core.graph import WorkflowGraph
from litestar_workflows.core.protocols import ExecutionEngine, WorkflowInstance

# The built-in kinds' runtime parts register their effect handlers and hooks (``engine.effects``)
# on import: imported with the engine, so that every process that commits has them.
from litestar_workflows.engine import subworkflows as _subworkflows  # noqa: F401
from litestar_workflows.engine.completion import TaskCompletion, WorkflowStart
from litestar_workflows.engine.dispatch import InProcessDispatcher, StepDispatcher
from litestar_workflows.engine.engine import LocalExecutionEngine
from litestar_workflows.engine.events import EventBus, InMemoryEventBus, WorkflowEvent
from litestar_workflows.engine.memory import InMemoryPersistence
from litestar_workflows.engine.persistence import (
    InstanceChange,
    TaskClosure,
    WorkflowPersistence,
)
from litestar_workflows.engine.registry import WorkflowRegistry

__all__ = (
    "EventBus",
    "ExecutionEngine",
    "InMemoryEventBus",
    "InMemoryPersistence",
    "InProcessDispatcher",
    "InstanceChange",
    "LocalExecutionEngine",
    "StepDispatcher",
    "TaskClosure",
    "TaskCompletion",
    "WorkflowEvent",
    "WorkflowGraph",
    "WorkflowInstance",
    "WorkflowPersistence",
    "WorkflowRegistry",
    "WorkflowStart",
)
