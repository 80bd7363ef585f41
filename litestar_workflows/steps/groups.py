"""Step groups: a sequence, a parallel fan-out with a join, or a choice, as one entry of ``steps``.

Registered in a definition under a key, a group expands into ordinary steps and edges (see
``core.fragments``), so it runs, pauses, recovers and is drawn like any hand-written graph::

    WorkflowDefinition(
        "onboarding", "1", "",
        steps={
            "prepare": SequentialGroup(CreateAccount(), SendWelcome()),
            "checks": ParallelGroup(CheckId(), CheckReferences(), callback=Decide()),
            "done": Archive(),
        },
        edges=[Edge("prepare", "checks"), Edge("checks", "done")],
        initial_step="prepare",
        terminal_steps={"done"},
    )

Inside the group registered as ``prepare``, its steps are named ``prepare.<step name>``, a
nested group ``prepare.<position>`` (from 1). A parallel group is a parallel gateway named after
its key whose branches meet at its callback (``checks.<callback name>``) or, without one, at a
step that does nothing (``checks.join``); a conditional group is an exclusive gateway named after
its key whose branches meet at ``<key>.end`` (also where it goes when the condition names no
branch). In a definition, steps share data through the context, as all steps do.

``await group.execute(context, engine)`` runs a group directly, outside any instance, as
litestar-workflows 0.3 did: each step through ``engine.execute_step``, a sequence passing each
result on as ``_previous_result``, a parallel group returning its steps' results (or its
callback's result, given those results), a conditional group the chosen branch's result (None
when the condition names no branch). Nothing of such a run is recorded.
"""

from __future__ import annotations

import asyncio
import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from litestar_workflows.core.context import WorkflowContext
from litestar_workflows.core.definition import Edge
from litestar_workflows.core.fragments import GraphFragment, renamed
from litestar_workflows.core.protocols import ExecutionEngine, Step
from litestar_workflows.steps.base import BaseMachineStep
from litestar_workflows.steps.gateways import ExclusiveGateway, ParallelGateway

__all__ = ("ConditionalGroup", "ParallelGroup", "SequentialGroup", "StepGroup")

Member: TypeAlias = "Step | StepGroup"


class _Meeting(BaseMachineStep):
    """Where the branches of a group meet again; it does nothing itself."""

    description = "branches of a step group meet here"


class StepGroup(ABC):
    """Base of the groups: run directly with :meth:`execute`, or register in a definition."""

    @abstractmethod
    async def execute(self, context: WorkflowContext, engine: ExecutionEngine) -> Any:
        """Run the group's steps through ``engine.execute_step`` and return its result."""

    @abstractmethod
    def to_fragment(self, key: str) -> GraphFragment:
        """The steps and edges this group stands for when registered as ``key``."""


async def _run(member: Member, context: WorkflowContext, engine: ExecutionEngine, previous: Any = None) -> Any:
    if isinstance(member, StepGroup):
        return await member.execute(context, engine)
    return await engine.execute_step(member, context, previous_result=previous)


def _fragments(key: str, members: Sequence[Member]) -> list[GraphFragment]:
    """One fragment per member, each named inside ``key`` (a repeated name gets its position appended)."""
    fragments: list[GraphFragment] = []
    used: set[str] = set()
    for position, member in enumerate(members, start=1):
        if isinstance(member, StepGroup):
            fragment = member.to_fragment(f"{key}.{position}")
        else:
            name = f"{key}.{member.name}"
            if name in used:
                name = f"{name}.{position}"
            fragment = GraphFragment({name: renamed(member, name)}, [], name, name)
        used.update(fragment.steps)
        fragments.append(fragment)
    return fragments


def _merged(*fragments: GraphFragment) -> tuple[dict[str, Step], list[Edge]]:
    steps: dict[str, Step] = {}
    edges: list[Edge] = []
    for fragment in fragments:
        steps.update(fragment.steps)
        edges.extend(fragment.edges)
    return steps, edges


class SequentialGroup(StepGroup):
    """Steps (or groups) one after the other."""

    def __init__(self, *steps: Member) -> None:
        self.steps = steps

    async def execute(self, context: WorkflowContext, engine: ExecutionEngine) -> Any:
        """Run each member in turn; each step gets the previous result; returns the last result."""
        result: Any = None
        for member in self.steps:
            result = await _run(member, context, engine, result)
        return result

    def to_fragment(self, key: str) -> GraphFragment:
        """The members chained by edges; an empty sequence is one step that does nothing."""
        if not self.steps:
            return GraphFragment({key: _Meeting(key)}, [], key, key)
        fragments = _fragments(key, self.steps)
        steps, edges = _merged(*fragments)
        edges.extend(Edge(before.exit, after.entry) for before, after in itertools.pairwise(fragments))
        return GraphFragment(steps, edges, fragments[0].entry, fragments[-1].exit)


class ParallelGroup(StepGroup):
    """Steps (or groups) at the same time; ``callback`` runs once all of them have finished."""

    def __init__(self, *steps: Member, callback: Step | None = None) -> None:
        self.steps = steps
        self.callback = callback

    async def execute(self, context: WorkflowContext, engine: ExecutionEngine) -> Any:
        """Run the members concurrently; returns their results in order, or the callback's result."""
        results = list(await asyncio.gather(*(_run(member, context, engine) for member in self.steps)))
        if self.callback is None:
            return results
        return await engine.execute_step(self.callback, context, previous_result=results)

    def to_fragment(self, key: str) -> GraphFragment:
        """A parallel gateway ``key`` whose branches meet at the callback (or ``key.join``)."""
        if not self.steps:
            return SequentialGroup(*([self.callback] if self.callback else [])).to_fragment(key)
        fragments = _fragments(key, self.steps)
        gateway = ParallelGateway(key, [fragment.entry for fragment in fragments])
        steps, edges = _merged(GraphFragment({key: gateway}), *fragments)
        join = f"{key}.{self.callback.name}" if self.callback is not None else f"{key}.join"
        steps[join] = renamed(self.callback, join) if self.callback is not None else _Meeting(join)
        edges.extend(Edge(fragment.exit, join) for fragment in fragments)
        return GraphFragment(steps, edges, key, join)


class ConditionalGroup(StepGroup):
    """One of several branches, chosen by ``condition(context)`` returning a key of ``branches``."""

    def __init__(self, condition: Callable[[WorkflowContext], str], branches: Mapping[str, Member]) -> None:
        self.condition = condition
        self.branches = dict(branches)

    async def execute(self, context: WorkflowContext, engine: ExecutionEngine) -> Any:
        """Run the chosen branch and return its result; None when the condition names no branch."""
        branch = self.branches.get(self.condition(context))
        return None if branch is None else await _run(branch, context, engine)

    def to_fragment(self, key: str) -> GraphFragment:
        """An exclusive gateway ``key`` choosing a branch; the branches meet at ``key.end``."""
        labels = list(self.branches)
        fragments = _fragments(key, [self.branches[label] for label in labels])
        end = f"{key}.end"
        entries = {label: fragment.entry for label, fragment in zip(labels, fragments, strict=True)}
        condition = self.condition

        def choose(context: WorkflowContext) -> str:
            return entries.get(condition(context), end)

        steps, edges = _merged(GraphFragment({key: ExclusiveGateway(key, choose)}), *fragments)
        steps[end] = _Meeting(end)
        edges.extend(Edge(key, entry) for entry in entries.values())
        edges.append(Edge(key, end))
        edges.extend(Edge(fragment.exit, end) for fragment in fragments)
        return GraphFragment(steps, edges, key, end)
