"""The two protocols users implement: a step, and a workflow class."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from uuid import UUID

from litestar_workflows.core.context import WorkflowContext
from litestar_workflows.core.models import WorkflowInstanceData
from litestar_workflows.core.types import StepType

if TYPE_CHECKING:
    from litestar_workflows.core.definition import WorkflowDefinition

__all__ = ("ExecutionEngine", "Step", "Workflow", "WorkflowInstance")

WorkflowInstance = WorkflowInstanceData
"""litestar-workflows 0.3's name for an instance, for annotations: the instance model itself."""


@runtime_checkable
class Step(Protocol):
    """A unit of work in a workflow."""

    name: str
    description: str
    step_type: StepType

    async def execute(self, context: WorkflowContext) -> Any:
        """Do the work; the return value is recorded as the step's result."""
        ...

    async def can_execute(self, context: WorkflowContext) -> bool:
        """Return False to skip the step (recorded as SKIPPED; execution continues past it)."""
        ...

    async def on_success(self, context: WorkflowContext, result: Any) -> None:
        """Called after ``execute`` returned."""
        ...

    async def on_failure(self, context: WorkflowContext, error: Exception) -> None:
        """Called after ``execute`` raised or timed out (once per failed attempt)."""
        ...


@runtime_checkable
class Workflow(Protocol):
    """A class that describes a workflow; ``get_definition`` builds its definition.

    An optional ``input_type`` class attribute types the start data (see
    ``WorkflowDefinition.input_type``); the registry applies it when the definition has none.
    It may also declare ``start_groups`` (a list of group names): who may start it through the
    API, applied to its definition when the definition names no groups of its own.
    """

    name: str
    version: str
    description: str

    @classmethod
    def get_definition(cls) -> WorkflowDefinition:
        """Return the workflow's definition."""
        ...


@runtime_checkable
class ExecutionEngine(Protocol):
    """What runs workflows (``LocalExecutionEngine`` is one); litestar-workflows 0.3's protocol, for typing."""

    async def start_workflow(self, workflow: Any, initial_data: dict[str, Any] | None = None) -> Any:
        """Create an instance of ``workflow`` and start running it."""
        ...

    async def execute_step(self, step: Step, context: WorkflowContext, previous_result: Any = None) -> Any:
        """Run one step outside any instance and return its result."""
        ...

    async def schedule_step(self, instance_id: UUID, step_name: str, delay: timedelta | None = None) -> None:
        """Make ``step_name`` of an instance runnable (after ``delay``)."""
        ...

    async def complete_human_task(self, instance_id: UUID, step_name: str, user_id: str, data: dict[str, Any]) -> Any:
        """Complete the open task of ``step_name`` with the submitted ``data``."""
        ...

    async def cancel_workflow(self, instance_id: UUID, reason: str) -> Any:
        """Cancel an instance."""
        ...
