"""Forks (several outgoing edges or a ParallelGateway), joins, and deterministic branch-data merging."""

from __future__ import annotations

import asyncio

import pytest

from litestar_workflows import (
    Edge,
    LocalExecutionEngine,
    ParallelGateway,
    StepStatus,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowStatus,
)
from tests.helpers import CountStep, FuncStep, SetStep, flow


def rendezvous_steps() -> tuple[FuncStep, FuncStep]:
    """Two steps that can only finish if they run at the same time: each sets its event, waits for the other's."""
    left_ready, right_ready = asyncio.Event(), asyncio.Event()

    async def left(context: WorkflowContext) -> str:
        left_ready.set()
        await asyncio.wait_for(right_ready.wait(), timeout=2)
        context.set("left", True)
        return "left"

    async def right(context: WorkflowContext) -> str:
        right_ready.set()
        await asyncio.wait_for(left_ready.wait(), timeout=2)
        context.set("right", True)
        return "right"

    return FuncStep("left", left), FuncStep("right", right)


def assert_ran_once_each(history_names: list[str], names: list[str]) -> None:
    for name in names:
        assert history_names.count(name) == 1, (name, history_names)


async def test_fork_by_edges_runs_branches_concurrently_and_continues_past_join(
    engine: LocalExecutionEngine,
) -> None:
    left, right = rendezvous_steps()
    join, after = CountStep("join"), CountStep("after")
    definition = flow(
        "edge_fork",
        [SetStep("start"), left, right, join, after, SetStep("end", "finished", True)],
        [
            ("start", "left"),
            ("start", "right"),
            ("left", "join"),
            ("right", "join"),
            ("join", "after"),
            ("after", "end"),
        ],
        "start",
        ["end"],
    )
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)

    assert done.status is WorkflowStatus.COMPLETED, done.error
    names = [e.step_name for e in done.context.step_history]
    assert_ran_once_each(names, ["start", "left", "right", "join", "after", "end"])
    assert names.index("join") > max(names.index("left"), names.index("right"))
    assert names[-2:] == ["after", "end"]
    assert (join.runs, after.runs) == (1, 1)
    assert done.data["left"] is True and done.data["right"] is True and done.data["finished"] is True
    assert done.tokens == []


async def test_parallel_gateway_runs_branches_concurrently(engine: LocalExecutionEngine) -> None:
    left, right = rendezvous_steps()
    join = CountStep("join")
    definition = flow(
        "gw_fork",
        [ParallelGateway("fork", ["left", "right"]), left, right, join, SetStep("end")],
        [("left", "join"), ("right", "join"), ("join", "end")],
        "fork",
        ["end"],
    )
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED, done.error
    assert join.runs == 1
    names = [e.step_name for e in done.context.step_history]
    assert_ran_once_each(names, ["fork", "left", "right", "join", "end"])
    assert done.context.step_history[0].result == ["left", "right"]


async def test_conditional_fork_join_does_not_wait_for_inactive_branches(engine: LocalExecutionEngine) -> None:
    join = CountStep("join")
    definition = flow(
        "conditional_fork",
        [SetStep("start"), SetStep("a", "a", 1), SetStep("b", "b", 1), SetStep("c", "c", 1), join, SetStep("end")],
        [
            Edge("start", "a", "want_a"),
            Edge("start", "b", "want_b"),
            Edge("start", "c", "want_c"),
            ("a", "join"),
            ("b", "join"),
            ("c", "join"),
            ("join", "end"),
        ],
        "start",
        ["end"],
    )
    started = await engine.start_workflow(definition, {"want_a": True, "want_c": True})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED, done.error
    names = [e.step_name for e in done.context.step_history]
    assert "b" not in names
    assert_ran_once_each(names, ["a", "c", "join", "end"])
    assert join.runs == 1

    # A single activated branch passes through the join too.
    started = await engine.start_workflow(definition, {"want_b": True})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert [e.step_name for e in done.context.step_history] == ["start", "b", "join", "end"]
    assert join.runs == 2


async def test_nested_forks_join_once_each(engine: LocalExecutionEngine) -> None:
    inner_join, outer_join = CountStep("inner_join"), CountStep("outer_join")
    definition = flow(
        "nested",
        [
            ParallelGateway("outer", ["x", "y"]),
            SetStep("x", "x", 1, delay=0.02),
            ParallelGateway("y", ["y1", "y2"]),
            SetStep("y1", "y1", 1),
            SetStep("y2", "y2", 1, delay=0.01),
            inner_join,
            outer_join,
            SetStep("end"),
        ],
        [
            ("x", "outer_join"),
            ("y1", "inner_join"),
            ("y2", "inner_join"),
            ("inner_join", "outer_join"),
            ("outer_join", "end"),
        ],
        "outer",
        ["end"],
    )
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED, done.error
    names = [e.step_name for e in done.context.step_history]
    assert_ran_once_each(names, ["outer", "x", "y", "y1", "y2", "inner_join", "outer_join", "end"])
    assert names.index("outer_join") > max(names.index("x"), names.index("inner_join"))
    assert (inner_join.runs, outer_join.runs) == (1, 1)
    assert {key: done.data[key] for key in ("x", "y1", "y2")} == {"x": 1, "y1": 1, "y2": 1}


def conflicting(name: str, first_delay: float, second_delay: float) -> WorkflowDefinition:
    return flow(
        name,
        [
            SetStep("start", "shared", "initial"),
            SetStep("first", "shared", "from-first", delay=first_delay),
            SetStep("second", "shared", "from-second", delay=second_delay),
            SetStep("join"),
        ],
        [("start", "first"), ("start", "second"), ("first", "join"), ("second", "join")],
        "start",
        ["join"],
    )


@pytest.mark.parametrize(("first_delay", "second_delay"), [(0.0, 0.05), (0.05, 0.0)])
async def test_later_declared_branch_wins_regardless_of_timing(
    engine: LocalExecutionEngine, first_delay: float, second_delay: float
) -> None:
    definition = conflicting(f"merge_{first_delay}", first_delay, second_delay)
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    names = [e.step_name for e in done.context.step_history]
    slow = "second" if second_delay else "first"
    assert names.index(slow) == 2, "the timing must really differ between the two runs"
    assert done.data["shared"] == "from-second"


@pytest.mark.parametrize(("first_delay", "second_delay"), [(0.0, 0.05), (0.05, 0.0)])
async def test_merge_is_deterministic_when_branches_end_without_join(
    engine: LocalExecutionEngine, first_delay: float, second_delay: float
) -> None:
    definition = flow(
        f"open_ends_{first_delay}",
        [
            SetStep("start"),
            SetStep("first", "shared", "from-first", delay=first_delay),
            SetStep("second", "shared", "from-second", delay=second_delay),
        ],
        [("start", "first"), ("start", "second")],
        "start",
        ["first", "second"],
    )
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.data["shared"] == "from-second"


async def test_branches_see_their_own_writes_not_each_others(engine: LocalExecutionEngine) -> None:
    seen: dict[str, object] = {}
    first_wrote = asyncio.Event()

    async def first(context: WorkflowContext) -> None:
        context.set("mine", "first")
        first_wrote.set()

    async def second(context: WorkflowContext) -> None:
        await asyncio.wait_for(first_wrote.wait(), timeout=2)
        await asyncio.sleep(0.01)
        seen["second"] = context.get("mine")

    async def join(context: WorkflowContext) -> None:
        seen["join"] = context.get("mine")

    definition = flow(
        "isolation",
        [SetStep("start"), FuncStep("first", first), FuncStep("second", second), FuncStep("join", join)],
        [("start", "first"), ("start", "second"), ("first", "join"), ("second", "join")],
        "start",
        ["join"],
    )
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert seen == {"second": None, "join": "first"}


async def test_removed_keys_merge_in_branch_order(engine: LocalExecutionEngine) -> None:
    async def drop(context: WorkflowContext) -> None:
        del context.data["temp"]

    definition = flow(
        "removal",
        [
            SetStep("start", "temp", 1),
            FuncStep("first", drop),
            SetStep("second", "other", 2),
            SetStep("join"),
        ],
        [("start", "first"), ("start", "second"), ("first", "join"), ("second", "join")],
        "start",
        ["join"],
    )
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert "temp" not in done.data
    assert done.data["other"] == 2


async def test_untouched_inherited_value_does_not_override_a_branch_change(engine: LocalExecutionEngine) -> None:
    # "second" never writes "shared": the value it saw came from before the fork and must not win.
    definition = flow(
        "inherited",
        [
            SetStep("start", "shared", "initial"),
            SetStep("first", "shared", "from-first", delay=0.02),
            SetStep("second", "other", 2),
            SetStep("join"),
        ],
        [("start", "first"), ("start", "second"), ("first", "join"), ("second", "join")],
        "start",
        ["join"],
    )
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.data == {"shared": "from-first", "other": 2}


async def test_nested_fork_inherited_value_does_not_override_a_branch_change(engine: LocalExecutionEngine) -> None:
    definition = flow(
        "nested_inherited",
        [
            ParallelGateway("outer", ["a", "b"]),
            SetStep("a", "shared", "from-a"),
            SetStep("b", "other", 1),
            SetStep("a1", "shared", "from-a1", delay=0.02),
            SetStep("a2", "more", 2),
            SetStep("inner_join"),
            SetStep("outer_join"),
        ],
        [
            ("a", "a1"),
            ("a", "a2"),
            ("a1", "inner_join"),
            ("a2", "inner_join"),
            ("inner_join", "outer_join"),
            ("b", "outer_join"),
        ],
        "outer",
        ["outer_join"],
    )
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.data["shared"] == "from-a1"


async def test_failure_in_one_branch_fails_the_instance(engine: LocalExecutionEngine) -> None:
    async def boom(context: WorkflowContext) -> None:
        raise RuntimeError("branch broke")

    join = CountStep("join")
    definition = flow(
        "branch_failure",
        [SetStep("start"), FuncStep("bad", boom), SetStep("good", "g", 1, delay=0.05), join],
        [("start", "bad"), ("start", "good"), ("bad", "join"), ("good", "join")],
        "start",
        ["join"],
    )
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None and "branch broke" in done.error
    await asyncio.sleep(0.1)  # let the good branch finish: its late result must not revive the instance
    final = await engine.get_instance(started.id)
    assert final.status is WorkflowStatus.FAILED
    assert join.runs == 0
    assert [e.status for e in final.context.step_history if e.step_name == "bad"] == [StepStatus.FAILED]
