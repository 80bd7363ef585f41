"""The two protocols users implement: a step, and a workflow class."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from litestar_workflows.core.context import WorkflowContext
from litestar_workflows.core.types import StepType

if TYPE_CHECKING:
    from litestar_workflows.core.definition import WorkflowDefinition

__all__ = ("Step", "Workflow")


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
