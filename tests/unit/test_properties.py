"""Property tests: random series-parallel workflows run every step once and merge data deterministically."""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    Edge,
    LocalExecutionEngine,
    ParallelGateway,
    Step,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowRegistry,
    WorkflowStatus,
)

# A block is ("machine", yields) | ("human",) | ("seq", [blocks]) | ("par", kind, [blocks]).
Block = tuple[Any, ...]


class Mark(BaseMachineStep):
    """Writes its own key and the shared key ``last``, yielding to the loop a few times first."""

    def __init__(self, name: str, yields: int = 0, *, writes_last: bool = True) -> None:
        super().__init__(name)
        self.yields = yields
        self.writes_last = writes_last

    async def execute(self, context: WorkflowContext) -> None:
        for _ in range(self.yields):
            await asyncio.sleep(0)
        context.set(self.name, True)
        if self.writes_last:
            context.set("last", self.name)


leaves = st.one_of(
    st.tuples(st.just("machine"), st.integers(min_value=0, max_value=3)),
    st.just(("human",)),
)


def _extend(children: st.SearchStrategy[Block]) -> st.SearchStrategy[Block]:
    return st.one_of(
        st.tuples(st.just("seq"), st.lists(children, min_size=2, max_size=3)),
        st.tuples(
            st.sampled_from(["par"]), st.sampled_from(["edges", "gateway"]), st.lists(children, min_size=2, max_size=3)
        ),
    )


blocks: st.SearchStrategy[Block] = st.recursive(leaves, _extend, max_leaves=10)


@dataclass
class Built:
    steps: list[Step] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    humans: list[str] = field(default_factory=list)
    counter: int = 0

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"


def compile_block(block: Block, built: Built) -> tuple[str, str, str]:
    """Add the block's steps and edges; return (entry step, exit step, expected value of ``last``)."""
    kind = block[0]
    if kind == "machine":
        name = built.name("m")
        built.steps.append(Mark(name, block[1]))
        return name, name, name
    if kind == "human":
        name = built.name("h")
        built.steps.append(BaseHumanStep(name, accept_any_data=True))
        built.humans.append(name)
        return name, name, name
    if kind == "seq":
        parts = [compile_block(child, built) for child in block[1]]
        for (_, left_exit, _), (right_entry, _, _) in itertools.pairwise(parts):
            built.edges.append(Edge(left_exit, right_entry))
        return parts[0][0], parts[-1][1], parts[-1][2]
    fork_kind, children = block[1], block[2]
    fork = built.name("fork")
    parts = [compile_block(child, built) for child in children]
    join = built.name("join")
    entries = [entry for entry, _, _ in parts]
    if fork_kind == "gateway":
        built.steps.append(ParallelGateway(fork, entries))
    else:
        built.steps.append(Mark(fork, writes_last=False))
        built.edges.extend(Edge(fork, entry) for entry in entries)
    built.steps.append(Mark(join, writes_last=False))
    built.joins.append(join)
    built.edges.extend(Edge(exit_, join) for _, exit_, _ in parts)
    return fork, join, parts[-1][2]


def build(block: Block, index: int) -> tuple[WorkflowDefinition, Built, str]:
    built = Built()
    start = Mark("start", writes_last=False)
    built.steps.append(start)
    entry, exit_, expected_last = compile_block(block, built)
    end = Mark("end", writes_last=False)
    built.steps.append(end)
    built.edges.extend([Edge("start", entry), Edge(exit_, "end")])
    definition = WorkflowDefinition(
        name=f"random_{index}",
        version="1",
        description="",
        steps={step.name: step for step in built.steps},
        edges=built.edges,
        initial_step="start",
        terminal_steps={"end"},
    )
    return definition, built, expected_last


async def run(definition: WorkflowDefinition, rng: random.Random, leave_open: bool) -> Any:
    engine = LocalExecutionEngine(WorkflowRegistry())
    try:
        started = await engine.start_workflow(definition)
        state = await engine.wait_for(started.id, timeout=10)
        while state.status is WorkflowStatus.WAITING and not leave_open:
            tasks = await engine.get_tasks(started.id)
            assert tasks, "a waiting instance must have an open task"
            task = rng.choice(tasks)
            await engine.complete_task(task.id, "tester", {task.step_name: True, "last": task.step_name})
            state = await engine.wait_for(started.id, timeout=10)
        return state, await engine.get_tasks(started.id)
    finally:
        await engine.stop(0)


_runs = 0


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=blocks, seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_series_parallel_workflows_run_every_step_once(block: Block, seed: int) -> None:
    global _runs  # noqa: PLW0603 - unique workflow names across examples
    _runs += 1
    definition, built, expected_last = build(block, _runs)
    assert definition.validate() == []

    state, open_tasks = asyncio.run(run(definition, random.Random(seed), leave_open=False))

    assert state.status is WorkflowStatus.COMPLETED, state.error
    assert open_tasks == []
    assert state.tokens == []
    names = [execution.step_name for execution in state.context.step_history]
    assert sorted(names) == sorted(definition.steps), "every step runs exactly once"
    for join in built.joins:
        assert names.count(join) == 1
    position = {name: index for index, name in enumerate(names)}
    for edge in definition.graph.edges:
        assert position[edge.source] < position[edge.target], (edge.source, edge.target)
    # Every step's own key arrived, and the shared key holds the value of the last-declared writer.
    for step in definition.steps.values():
        if not isinstance(step, ParallelGateway):
            assert state.data[step.name] is True
    assert state.data["last"] == expected_last


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=blocks)
def test_instances_with_open_tasks_wait(block: Block) -> None:
    global _runs  # noqa: PLW0603 - unique workflow names across examples
    _runs += 1
    definition, built, _ = build(block, _runs)

    state, open_tasks = asyncio.run(run(definition, random.Random(0), leave_open=True))

    if built.humans:
        assert state.status is WorkflowStatus.WAITING
        assert open_tasks, "a waiting instance has at least one open task"
        assert {task.step_name for task in open_tasks} <= set(built.humans)
        assert sorted(t.step for t in state.tokens if t.task_id is not None) == sorted(
            task.step_name for task in open_tasks
        )
    else:
        assert state.status is WorkflowStatus.COMPLETED
