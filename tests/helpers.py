"""Small step classes and definition builders shared by the tests."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from litestar_workflows import (
    BaseMachineStep,
    Edge,
    ParallelGateway,
    Step,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowInstanceData,
)


class SetStep(BaseMachineStep):
    """Writes ``key = value`` (after an optional pause) and returns ``value``."""

    def __init__(self, name: str, key: str | None = None, value: Any = None, *, delay: float = 0.0) -> None:
        super().__init__(name)
        self.key = key
        self.value = value
        self.delay = delay

    async def execute(self, context: WorkflowContext) -> Any:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.key is not None:
            context.set(self.key, self.value)
        return self.value


class CountStep(BaseMachineStep):
    """Counts its runs (in ``self.runs`` and in the context key ``runs.<name>``)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.runs = 0

    async def execute(self, context: WorkflowContext) -> int:
        self.runs += 1
        key = f"runs.{self.name}"
        context.set(key, int(context.get(key, 0)) + 1)
        return self.runs


class FuncStep(BaseMachineStep):
    """Runs an async function of the context."""

    def __init__(self, name: str, func: Callable[[WorkflowContext], Any], **options: Any) -> None:
        super().__init__(name, **options)
        self.func = func

    async def execute(self, context: WorkflowContext) -> Any:
        return await self.func(context)


def flow(
    name: str,
    steps: Iterable[Step],
    edges: Iterable[tuple[str, str] | Edge],
    initial: str,
    terminal: Iterable[str],
    version: str = "1",
) -> WorkflowDefinition:
    """A definition from a list of steps and (source, target) pairs or edges."""
    return WorkflowDefinition(
        name=name,
        version=version,
        description="",
        steps={step.name: step for step in steps},
        edges=[edge if isinstance(edge, Edge) else Edge(*edge) for edge in edges],
        initial_step=initial,
        terminal_steps=set(terminal),
    )


def chain(name: str, steps: list[Step], version: str = "1") -> WorkflowDefinition:
    """A straight line of steps."""
    names = [step.name for step in steps]
    return flow(name, steps, list(itertools.pairwise(names)), names[0], [names[-1]], version)


def step_names(instance_history: Iterable[Any]) -> list[str]:
    """Names of the recorded executions, in order."""
    return [execution.step_name for execution in instance_history]


def fork_and_join(name: str = "fork") -> WorkflowDefinition:
    """a -> parallel gateway g -> (b | c) -> join j -> end; every step sets its own key."""
    return flow(
        name,
        [
            SetStep("a", "x", 1),
            ParallelGateway("g", ["b", "c"]),
            SetStep("b", "b", 1),
            SetStep("c", "c", 2),
            SetStep("j", "j", 3),
            SetStep("end", "end", 4),
        ],
        [("a", "g"), ("g", "b"), ("g", "c"), ("b", "j"), ("c", "j"), ("j", "end")],
        "a",
        ["end"],
    )


def comparable_state(state: WorkflowInstanceData) -> dict[str, Any]:
    """Everything stored of an instance, as plain data, without the random task ids."""
    copied = state.copy(share_history=False)
    for token in copied.tokens:
        token.task_id = None
    plain: dict[str, Any] = msgspec.to_builtins(copied)
    return plain
