"""Gateways: choose one branch, or run several at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from litestar_workflows.core.context import WorkflowContext
from litestar_workflows.core.kinds import EXCLUSIVE_GATEWAY, PARALLEL_GATEWAY, StepKind
from litestar_workflows.core.types import StepType
from litestar_workflows.steps.base import BaseStep

__all__ = ("ExclusiveGateway", "ParallelGateway")


class ExclusiveGateway(BaseStep):
    """Continue on exactly one branch.

    With ``condition``, the branch is the step name it returns for the context (it must be a
    target of one of the gateway's edges). Without it, the first outgoing edge whose condition
    holds is taken. When nothing matches, the instance fails with an error naming the gateway.
    """

    step_type: StepType = StepType.GATEWAY
    gateway_kind: ClassVar[str] = "exclusive"
    step_kind: ClassVar[StepKind] = EXCLUSIVE_GATEWAY

    def __init__(
        self,
        name: str,
        condition: Callable[[WorkflowContext], str | None] | None = None,
        description: str = "",
    ) -> None:
        super().__init__(name, description or None)
        self.condition = condition

    async def execute(self, context: WorkflowContext) -> Any:
        """Return the chosen step name (None lets the engine use the edge conditions)."""
        return None if self.condition is None else self.condition(context)


class ParallelGateway(BaseStep):
    """Start every branch at once; a step with several incoming edges joins them again."""

    step_type: StepType = StepType.GATEWAY
    gateway_kind: ClassVar[str] = "parallel"
    step_kind: ClassVar[StepKind] = PARALLEL_GATEWAY

    def __init__(self, name: str, branches: list[str], description: str = "") -> None:
        super().__init__(name, description or None)
        if not branches:
            msg = f"parallel gateway {name!r} needs at least one branch"
            raise ValueError(msg)
        self.branches = list(branches)

    async def execute(self, context: WorkflowContext) -> Any:
        """Return the branches that start."""
        return list(self.branches)
