"""The workloads every benchmark runs: a 3-step machine workflow and a one-approval workflow."""

from __future__ import annotations

from typing import Any

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    Edge,
    WorkflowContext,
    WorkflowDefinition,
)

__all__ = ("approval_workflow", "three_step_workflow")


class SetOne(BaseMachineStep):
    """Sets one small value, like the peers' equivalent steps."""

    async def execute(self, context: WorkflowContext) -> Any:
        context.set(self.name, 1)
        return None


def three_step_workflow() -> WorkflowDefinition:
    """W1: a -> b -> c, each step sets one small value."""
    steps = {name: SetOne(name) for name in ("a", "b", "c")}
    return WorkflowDefinition(
        "w1", "1", "three machine steps", dict(steps), [Edge("a", "b"), Edge("b", "c")], "a", {"c"}
    )


def approval_workflow() -> WorkflowDefinition:
    """W2: step, wait for a person, step."""
    return WorkflowDefinition(
        "w2",
        "1",
        "one approval between two steps",
        {"prepare": SetOne("prepare"), "approve": BaseHumanStep("approve", "Approve"), "finish": SetOne("finish")},
        [Edge("prepare", "approve"), Edge("approve", "finish")],
        "prepare",
        {"finish"},
    )
