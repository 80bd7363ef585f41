"""ExclusiveGateway picks exactly one branch; failures to pick fail the instance."""

from __future__ import annotations

import pytest

from litestar_workflows import (
    Edge,
    ExclusiveGateway,
    LocalExecutionEngine,
    ParallelGateway,
    StepStatus,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowStatus,
)
from tests.helpers import SetStep, flow


def routed(name: str, gateway: ExclusiveGateway, edges: list[Edge] | None = None) -> WorkflowDefinition:
    return flow(
        name,
        [SetStep("start"), gateway, SetStep("left", "went", "left"), SetStep("right", "went", "right")],
        [Edge("start", gateway.name), *(edges or [Edge(gateway.name, "left"), Edge(gateway.name, "right")])],
        "start",
        ["left", "right"],
    )


@pytest.mark.parametrize(("side", "other"), [("left", "right"), ("right", "left")])
async def test_callable_picks_exactly_one_branch(engine: LocalExecutionEngine, side: str, other: str) -> None:
    gateway = ExclusiveGateway("gw", lambda c: str(c.get("side")))
    started = await engine.start_workflow(routed(f"callable_{side}", gateway), {"side": side})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.data["went"] == side
    names = [e.step_name for e in done.context.step_history]
    assert names == ["start", "gw", side]
    assert other not in names
    assert done.context.step_history[1].result == side


async def test_without_callable_first_matching_edge_wins(engine: LocalExecutionEngine) -> None:
    # Both edges match; only the first declared one is taken.
    gateway = ExclusiveGateway("gw")
    definition = routed(
        "first_match",
        gateway,
        [Edge("gw", "left", "amount > 10"), Edge("gw", "right", "amount > 0")],
    )
    started = await engine.start_workflow(definition, {"amount": 50})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.data["went"] == "left"
    assert [e.step_name for e in done.context.step_history] == ["start", "gw", "left"]

    started = await engine.start_workflow(definition, {"amount": 5})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.data["went"] == "right"


async def test_no_branch_matches_fails_naming_the_gateway(engine: LocalExecutionEngine) -> None:
    gateway = ExclusiveGateway("pick_route")
    definition = routed(
        "no_match",
        gateway,
        [Edge("pick_route", "left", "amount > 10"), Edge("pick_route", "right", "amount > 5")],
    )
    started = await engine.start_workflow(definition, {"amount": 1})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None and "pick_route" in done.error and "no branch" in done.error
    last = done.context.step_history[-1]
    assert (last.step_name, last.status) == ("pick_route", StepStatus.FAILED)


async def test_gateway_returning_a_non_target_fails(engine: LocalExecutionEngine) -> None:
    gateway = ExclusiveGateway("gw", lambda c: "nowhere")
    started = await engine.start_workflow(routed("non_target", gateway))
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None and "'gw'" in done.error and "'nowhere'" in done.error
    assert [e.step_name for e in done.context.step_history] == ["start", "gw"]


async def test_gateway_failure_is_not_retried(engine: LocalExecutionEngine) -> None:
    gateway = ExclusiveGateway("gw", lambda c: "nowhere")
    gateway.max_retries = 3
    started = await engine.start_workflow(routed("no_retry", gateway))
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert [e.step_name for e in done.context.step_history].count("gw") == 1


async def test_gateway_callable_that_raises_fails_the_instance(engine: LocalExecutionEngine) -> None:
    def broken(context: WorkflowContext) -> str:
        raise KeyError("missing")

    started = await engine.start_workflow(routed("raising", ExclusiveGateway("gw", broken)))
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None and "KeyError" in done.error


async def test_parallel_gateway_ignores_edge_conditions(engine: LocalExecutionEngine) -> None:
    definition = flow(
        "pgw",
        [ParallelGateway("fork", ["a", "b"]), SetStep("a", "a", 1), SetStep("b", "b", 2), SetStep("join")],
        [Edge("fork", "a", "never == 1"), ("a", "join"), ("b", "join")],
        "fork",
        ["join"],
    )
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.data == {"a": 1, "b": 2}


def test_parallel_gateway_needs_branches() -> None:
    with pytest.raises(ValueError, match="at least one branch"):
        ParallelGateway("fork", [])
