"""Sub-workflows on every persistence: a parent starts a child, waits for it durably, and goes on.

Each test runs in memory, on SQLite and on PostgreSQL (``store``): the child is created in the
parent's commit, and the child's last commit resumes the parent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

import msgspec
import pytest

from litestar_workflows import (
    BaseHumanStep,
    LocalExecutionEngine,
    ParallelGateway,
    StepStatus,
    SubWorkflowStep,
    TaskStatus,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowInstanceData,
    WorkflowPersistence,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.core.types import TokenStatus
from tests.helpers import FuncStep, SetStep, chain, flow


class TypedInput(msgspec.Struct):
    n: int


CHECK_FORM = {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]}


async def _quote(context: WorkflowContext) -> None:
    context.set("price", context.get("amount") * 2)
    context.set("internal", "not handed back")


def pricing() -> WorkflowDefinition:
    """The child: computes a price from ``amount``."""
    return chain("pricing", [FuncStep("quote", _quote)])


def checking() -> WorkflowDefinition:
    """A child that waits for a person."""
    return chain("checking", [BaseHumanStep("check", form_schema=CHECK_FORM)])


async def _explode(context: WorkflowContext) -> None:
    raise RuntimeError("pricing service down")


def order(child: str = "pricing") -> WorkflowDefinition:
    """The parent: records the order, runs ``child``, then ships."""
    call = SubWorkflowStep("price", child, input={"amount": "total"}, output={"quoted": "price"})
    return chain("order", [SetStep("record", "recorded", True), call, SetStep("ship", "shipped", True)])


async def settled(engine: LocalExecutionEngine, instance_id: UUID) -> WorkflowInstanceData:
    """``wait_for`` through children: the state once the instance ended or waits for more than a running child.

    ``wait_for`` returns a parent as soon as it waits, and a parent waits while its child runs.
    """
    state = await engine.wait_for(instance_id, timeout=10)
    if state.status is not WorkflowStatus.WAITING:
        return state
    for token in state.tokens:
        if token.child_id is not None and (await settled(engine, token.child_id)).status.is_finished:
            return await settled(engine, instance_id)  # the child's end moved the parent on
    return state


@pytest.fixture
async def engine(store: WorkflowPersistence) -> AsyncIterator[LocalExecutionEngine]:
    engine = LocalExecutionEngine(WorkflowRegistry(), store)
    yield engine
    await engine.stop(0)


async def test_the_child_runs_with_mapped_input_and_its_declared_output_is_merged(
    engine: LocalExecutionEngine,
) -> None:
    engine.registry.register_definition(pricing())
    parent = await engine.start_workflow(order(), {"total": 21, "customer": "ada"}, started_by="ada")
    done = await settled(engine, parent.id)

    assert done.status is WorkflowStatus.COMPLETED
    assert done.data == {"total": 21, "customer": "ada", "recorded": True, "quoted": 42, "shipped": True}
    [child] = await engine.persistence.list_instances(parent_id=parent.id)
    child = await engine.wait_for(child.id, timeout=10)
    assert (child.workflow_name, child.status, child.parent_id) == ("pricing", WorkflowStatus.COMPLETED, parent.id)
    assert child.data == {"amount": 21, "price": 42, "internal": "not handed back"}
    assert child.started_by == "ada"  # started in the name of whoever started the parent
    price = next(e for e in done.context.step_history if e.step_name == "price")
    assert (price.status, price.result) == (StepStatus.SUCCEEDED, {"quoted": 42})


async def test_the_parent_waits_durably_while_the_child_waits_for_a_person(engine: LocalExecutionEngine) -> None:
    engine.registry.register_definition(checking())
    call = SubWorkflowStep("check_it", "checking", output=["score"])
    parent = await engine.start_workflow(chain("review", [call, SetStep("after", "after", True)]))
    waiting = await settled(engine, parent.id)
    assert waiting.status is WorkflowStatus.WAITING
    [token] = waiting.tokens
    assert token.status is TokenStatus.WAITING and token.child_id is not None
    [task] = await engine.get_tasks(instance_id=token.child_id)

    # Another engine on the same store (a restarted process) finishes the child; the parent follows.
    await engine.stop(0)
    registry = WorkflowRegistry()
    registry.register_definition(checking())
    registry.register_definition(chain("review", [call, SetStep("after", "after", True)]))
    restarted = LocalExecutionEngine(registry, engine.persistence)
    try:
        await restarted.complete_task(task.id, "bob", {"score": 7})
        done = await settled(restarted, parent.id)
    finally:
        await restarted.stop(0)
    assert (done.status, done.data) == (WorkflowStatus.COMPLETED, {"score": 7, "after": True})


async def test_a_failed_child_fails_the_step_and_the_parent(engine: LocalExecutionEngine) -> None:
    engine.registry.register_definition(chain("pricing", [FuncStep("quote", _explode)]))
    parent = await engine.start_workflow(order(), {"total": 1})
    failed = await settled(engine, parent.id)

    assert failed.status is WorkflowStatus.FAILED
    [child] = await engine.persistence.list_instances(parent_id=parent.id)
    assert child.status is WorkflowStatus.FAILED
    assert failed.error is not None and "pricing service down" in failed.error
    assert f"sub-workflow 'pricing' ({child.id}) failed" in failed.error
    assert "shipped" not in failed.data


async def test_retrying_a_parent_whose_child_failed_starts_a_new_child(engine: LocalExecutionEngine) -> None:
    attempts: list[int] = []

    async def flaky(context: WorkflowContext) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first try fails")
        context.set("price", 5)

    engine.registry.register_definition(chain("pricing", [FuncStep("quote", flaky)]))
    parent = await engine.start_workflow(order(), {"total": 1})
    assert (await settled(engine, parent.id)).status is WorkflowStatus.FAILED

    await engine.retry_workflow(parent.id)
    done = await settled(engine, parent.id)

    assert (done.status, done.data["quoted"]) == (WorkflowStatus.COMPLETED, 5)
    children = await engine.persistence.list_instances(parent_id=parent.id)
    assert sorted(child.status for child in children) == [WorkflowStatus.COMPLETED, WorkflowStatus.FAILED]
    runs = [e.status for e in done.context.step_history if e.step_name == "price"]
    assert runs == [StepStatus.FAILED, StepStatus.SUCCEEDED]


async def test_a_child_whose_input_cannot_be_built_fails_the_parent_and_starts_nothing(
    engine: LocalExecutionEngine,
) -> None:
    engine.registry.register_definition(pricing())
    parent = await engine.start_workflow(order(), {"customer": "ada"})  # no "total" to pass on
    failed = await settled(engine, parent.id)

    assert failed.status is WorkflowStatus.FAILED
    assert failed.error is not None and "passes 'total' to its child, which the instance lacks" in failed.error
    assert await engine.persistence.list_instances(parent_id=parent.id) == []


async def test_cancelling_the_parent_cancels_its_children_in_the_same_commit(engine: LocalExecutionEngine) -> None:
    engine.registry.register_definition(checking())
    engine.registry.register_definition(chain("middle", [SubWorkflowStep("inner", "checking")]))
    parent = await engine.start_workflow(chain("outer", [SubWorkflowStep("outer_call", "middle")]))
    await settled(engine, parent.id)
    [middle] = await engine.persistence.list_instances(parent_id=parent.id)
    middle = await engine.wait_for(middle.id, timeout=10)
    [inner] = await engine.persistence.list_instances(parent_id=middle.id)
    inner = await engine.wait_for(inner.id, timeout=10)
    assert inner.status is WorkflowStatus.WAITING

    await engine.cancel_workflow(parent.id, "order withdrawn")

    for instance_id in (parent.id, middle.id, inner.id):
        assert (await engine.get_instance(instance_id)).status is WorkflowStatus.CANCELED
    [task] = await engine.get_tasks(instance_id=inner.id, status=None)
    assert task.status is TaskStatus.CANCELED
    assert (await engine.get_instance(inner.id)).cancel_reason == f"its parent {middle.id} was cancelled: " + (
        f"its parent {parent.id} was cancelled: order withdrawn"
    )


async def test_cancelling_a_child_directly_fails_the_parents_step(engine: LocalExecutionEngine) -> None:
    engine.registry.register_definition(checking())
    parent = await engine.start_workflow(chain("review", [SubWorkflowStep("check_it", "checking")]))
    waiting = await settled(engine, parent.id)
    child_id = waiting.tokens[0].child_id
    assert child_id is not None

    await engine.cancel_workflow(child_id, "not needed")

    failed = await engine.get_instance(parent.id)
    assert failed.status is WorkflowStatus.FAILED
    assert failed.error is not None and "canceled" in failed.error


async def test_nested_children_two_levels_deep_hand_their_output_up(engine: LocalExecutionEngine) -> None:
    engine.registry.register_definition(pricing())
    middle = chain("middle", [SubWorkflowStep("inner", "pricing", input={"amount": "amount"}, output=["price"])])
    engine.registry.register_definition(middle)
    outer = chain(
        "outer",
        [
            SubWorkflowStep(
                "outer_call", "middle", input=lambda c: {"amount": c.get("n") + 1}, output={"final": "price"}
            )
        ],
    )
    parent = await engine.start_workflow(outer, {"n": 4})
    done = await settled(engine, parent.id)

    assert (done.status, done.data) == (WorkflowStatus.COMPLETED, {"n": 4, "final": 10})
    [middle_instance] = await engine.persistence.list_instances(parent_id=parent.id)
    [inner_instance] = await engine.persistence.list_instances(parent_id=middle_instance.id)
    assert inner_instance.workflow_name == "pricing"


async def test_the_childs_version_is_fixed_when_it_starts(engine: LocalExecutionEngine) -> None:
    engine.registry.register_definition(checking())
    parent = await engine.start_workflow(chain("review", [SubWorkflowStep("check_it", "checking")]))
    waiting = await settled(engine, parent.id)
    child_id = waiting.tokens[0].child_id
    assert child_id is not None
    newer = chain("checking", [BaseHumanStep("check", form_schema=CHECK_FORM)], version="2")
    engine.registry.register_definition(newer)

    child = await engine.get_instance(child_id)
    assert child.workflow_version == "1"  # started before version 2 existed; it stays on version 1
    [task] = await engine.get_tasks(instance_id=child_id)
    await engine.complete_task(task.id, "bob", {"score": 1})
    assert (await settled(engine, parent.id)).status is WorkflowStatus.COMPLETED


async def test_a_call_on_one_parallel_branch_joins_with_the_other(engine: LocalExecutionEngine) -> None:
    """The branch with the call waits for its child while its sibling runs on; the join runs once."""
    engine.registry.register_definition(checking())
    parallel = flow(
        "parallel",
        [
            ParallelGateway("fork", branches=["check_it", "note"]),
            SubWorkflowStep("check_it", "checking", output=["score"]),
            SetStep("note", "noted", True),
            SetStep("join", "joined", True),
        ],
        [("check_it", "join"), ("note", "join")],
        "fork",
        ["join"],
    )
    parent = await engine.start_workflow(parallel)
    waiting = await settled(engine, parent.id)
    assert waiting.status is WorkflowStatus.WAITING and sorted(waiting.active_steps) == ["check_it", "join"]
    [child_id] = [token.child_id for token in waiting.tokens if token.child_id is not None]
    [task] = await engine.get_tasks(instance_id=child_id)
    await engine.complete_task(task.id, "bob", {"score": 3})

    done = await settled(engine, parent.id)
    assert (done.status, done.data) == (WorkflowStatus.COMPLETED, {"noted": True, "score": 3, "joined": True})
    assert [e.step_name for e in done.context.step_history].count("join") == 1


async def test_a_child_whose_input_its_workflow_refuses_fails_the_parent(engine: LocalExecutionEngine) -> None:
    typed = WorkflowDefinition("typed", "1", "", {"only": SetStep("only")}, [], "only", {"only"}, input_type=TypedInput)
    engine.registry.register_definition(typed)
    parent = await engine.start_workflow(
        chain("calls_typed", [SubWorkflowStep("call", "typed", input={"n": "n"})]), {"n": "x"}
    )
    failed = await settled(engine, parent.id)

    assert failed.status is WorkflowStatus.FAILED
    assert failed.error is not None and "the sub-workflow could not be started" in failed.error
    assert await engine.persistence.list_instances(parent_id=parent.id) == []


async def test_a_parent_that_fails_cancels_its_child_and_a_retry_starts_a_new_one(
    engine: LocalExecutionEngine,
) -> None:
    """As a failed instance's open tasks are cancelled and a retry opens them again."""
    engine.registry.register_definition(checking())
    broken = {"yes": True}

    async def fragile(context: WorkflowContext) -> None:
        if broken["yes"]:
            raise RuntimeError("broken")

    parallel = flow(
        "fragile",
        [
            ParallelGateway("fork", branches=["check_it", "risky"]),
            SubWorkflowStep("check_it", "checking", output=["score"]),
            FuncStep("risky", fragile),
            SetStep("join", "joined", True),
        ],
        [("check_it", "join"), ("risky", "join")],
        "fork",
        ["join"],
    )
    parent = await engine.start_workflow(parallel)
    failed = await settled(engine, parent.id)
    assert failed.status is WorkflowStatus.FAILED
    [first] = await engine.persistence.list_instances(parent_id=parent.id)
    first = await engine.get_instance(first.id)
    assert (first.status, first.cancel_reason) == (WorkflowStatus.CANCELED, f"its parent {parent.id} failed")

    broken["yes"] = False
    await engine.retry_workflow(parent.id)
    waiting = await settled(engine, parent.id)
    [child_id] = [token.child_id for token in waiting.tokens if token.child_id is not None]
    assert child_id != first.id
    [task] = await engine.get_tasks(instance_id=child_id)
    await engine.complete_task(task.id, "bob", {"score": 2})
    done = await settled(engine, parent.id)
    assert (done.status, done.data) == (WorkflowStatus.COMPLETED, {"score": 2, "joined": True})


async def test_cancelling_the_parent_stops_a_childs_running_step(engine: LocalExecutionEngine) -> None:
    started, stopped = asyncio.Event(), asyncio.Event()

    async def slow(context: WorkflowContext) -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # never set: only a cancellation ends it
        except asyncio.CancelledError:
            stopped.set()
            raise

    engine.registry.register_definition(chain("slow_child", [FuncStep("work", slow)]))
    parent = await engine.start_workflow(chain("slow_parent", [SubWorkflowStep("call", "slow_child")]))
    await asyncio.wait_for(started.wait(), timeout=10)
    [child] = await engine.persistence.list_instances(parent_id=parent.id)

    await engine.cancel_workflow(parent.id, "no longer needed")

    await asyncio.wait_for(stopped.wait(), timeout=10)  # the child's step was cancelled, as cancel_workflow does
    cancelled = await engine.get_instance(child.id)
    assert cancelled.status is WorkflowStatus.CANCELED
    assert [(e.step_name, e.status) for e in cancelled.context.step_history] == [("work", StepStatus.CANCELED)]
