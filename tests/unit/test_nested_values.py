"""Dicts and lists inside instance data: changed in place by a step, by a failed attempt, or by a caller."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    LocalExecutionEngine,
    StepStatus,
    WorkflowContext,
    WorkflowStatus,
)
from litestar_workflows.core.values import same_value
from tests.helpers import SetStep, chain, flow


class Seed(BaseMachineStep):
    async def execute(self, context: WorkflowContext) -> Any:
        context.set("items", [1])
        context.set("nested", {"inner": {"count": 0}})
        return {"seeded": [1]}


class AppendThenMaybeFail(BaseMachineStep):
    """Appends to ``items`` and bumps ``nested.inner.count`` in place; the first attempt then fails."""

    def __init__(self, name: str, *, failures: int) -> None:
        super().__init__(name, max_retries=2, retry_backoff=0.0)
        self.failures = failures
        self.attempts = 0

    async def execute(self, context: WorkflowContext) -> Any:
        self.attempts += 1
        items = context.get("items")
        items.append(len(items) + 1)
        context.get("nested")["inner"]["count"] += 1
        if self.attempts <= self.failures:
            raise RuntimeError("after changing the data in place")
        return None

    async def on_success(self, context: WorkflowContext, result: Any) -> None:
        return None


class Plain(AppendThenMaybeFail):
    """The same without a hook, so the in-memory engine may run it in its in-place lane."""

    on_success = BaseMachineStep.on_success


@pytest.mark.parametrize("kind", [Plain, AppendThenMaybeFail], ids=["in-place lane", "general path"])
async def test_a_failed_attempt_leaves_nested_values_as_they_were(
    engine: LocalExecutionEngine, kind: type[AppendThenMaybeFail]
) -> None:
    grow = kind("grow", failures=1)
    started = await engine.start_workflow(chain(f"nested_{kind.__name__}", [Seed("seed"), grow, SetStep("end")]))
    done = await engine.wait_for(started.id, timeout=5)

    assert done.status is WorkflowStatus.COMPLETED
    assert [e.status for e in done.context.step_history if e.step_name == "grow"] == [
        StepStatus.FAILED,
        StepStatus.SUCCEEDED,
    ]
    # Only the attempt that succeeded changed the data (the failed one changed its own copy).
    assert done.data["items"] == [1, 2]
    assert done.data["nested"] == {"inner": {"count": 1}}


class KeepsItsData(BaseMachineStep):
    """Keeps the list it stored, as a callback or background task might."""

    kept: list[Any] | None = None

    async def execute(self, context: WorkflowContext) -> Any:
        mine = [1]
        context.set("items", mine)
        KeepsItsData.kept = mine
        return mine


async def test_a_step_changing_a_list_it_stored_after_returning_changes_nothing_stored(
    engine: LocalExecutionEngine,
) -> None:
    started = await engine.start_workflow(chain("kept_list", [KeepsItsData("keep"), SetStep("end")]))
    done = await engine.wait_for(started.id, timeout=5)
    assert KeepsItsData.kept is not None
    KeepsItsData.kept.append("late")

    again = await engine.get_instance(started.id)
    assert again.data["items"] == [1]
    assert again.context.step_history[0].result == [1]
    assert done.data["items"] == [1]


async def test_changing_nested_values_of_a_returned_instance_changes_nothing_stored(
    engine: LocalExecutionEngine,
) -> None:
    approve = BaseHumanStep("approve", "Approve")
    definition = flow("nested_snapshot", [Seed("seed"), approve], [("seed", "approve")], "seed", ["approve"])
    started = await engine.start_workflow(definition)
    waiting = await engine.wait_for(started.id, timeout=5)
    assert waiting.status is WorkflowStatus.WAITING

    waiting.data["items"].append("tampered")
    waiting.data["nested"]["inner"]["count"] = 99
    waiting.context.step_history[0].result["seeded"].append("tampered")
    with pytest.raises(AttributeError):
        waiting.context.step_history[0].status = StepStatus.FAILED  # type: ignore[misc]

    again = await engine.get_instance(started.id)
    assert again.data == {"items": [1], "nested": {"inner": {"count": 0}}}
    assert again.context.step_history[0].result == {"seeded": [1]}


async def test_an_ended_branch_seen_by_a_caller_cannot_change_the_result_of_the_join(
    engine: LocalExecutionEngine,
) -> None:
    class Quick(BaseMachineStep):
        async def execute(self, context: WorkflowContext) -> Any:
            context.set("k", {"by": "quick"})

    definition = flow(
        "nested_branches",
        [SetStep("start"), Quick("quick"), BaseHumanStep("slow", "Slow")],
        [("start", "quick"), ("start", "slow")],
        "start",
        ["quick", "slow"],
    )
    started = await engine.start_workflow(definition)
    waiting = await engine.wait_for(started.id, timeout=5)
    assert waiting.status is WorkflowStatus.WAITING
    assert waiting.ended_branches, "the quick branch ended while the other waits"
    waiting.ended_branches[0].delta["k"]["by"] = "caller"

    await engine.complete_human_task(started.id, "slow", "someone", {})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.data["k"] == {"by": "quick"}


def test_same_value_tells_apart_what_equality_does_not() -> None:
    assert same_value({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2}]})
    assert not same_value([1], [True])
    assert not same_value([1], [1.0])
    assert not same_value({"a": [1]}, {"a": [1, 2]})
    assert not same_value({"a": 1}, {"b": 1})
    assert msgspec.json.encode([1]) != msgspec.json.encode([True])  # why the difference matters


async def test_changing_a_returned_task_changes_neither_the_task_nor_the_definition(
    engine: LocalExecutionEngine,
) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    approve = BaseHumanStep("approve", "Approve", form_schema=schema, candidate_groups=["managers"])
    started = await engine.start_workflow(chain("nested_task", [approve, SetStep("end")]))
    (task,) = await engine.get_tasks(started.id)

    assert task.form_schema is not None
    task.form_schema["properties"]["ok"]["type"] = "string"
    task.candidate_groups.append("everyone")

    (again,) = await engine.get_tasks(started.id)
    assert again.form_schema == schema
    assert again.candidate_groups == ["managers"]
    assert approve.form_schema == {"type": "object", "properties": {"ok": {"type": "boolean"}}}
