"""Step groups in a definition become ordinary graph steps; steps under another key are bound copies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    ConditionalGroup,
    Edge,
    LocalExecutionEngine,
    ParallelGroup,
    SequentialGroup,
    StepType,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowRegistry,
    WorkflowStatus,
    WorkflowValidationError,
)
from litestar_workflows.db import SQLAlchemyPersistence


class Mark(BaseMachineStep):
    """Records that it ran under the name it has in the workflow."""

    async def execute(self, context: WorkflowContext) -> str:
        context.set(f"ran {self.name}", True)
        return self.name


class Tally(BaseMachineStep):
    """A parallel group's callback: counts the branches that ran before it."""

    async def execute(self, context: WorkflowContext) -> int:
        done = sum(1 for key in context.data if key.startswith("ran checks."))
        context.set("checks done", done)
        return done


def onboarding(version: str = "1") -> WorkflowDefinition:
    review = BaseHumanStep("review", form_schema={"type": "object", "properties": {"ok": {"type": "boolean"}}})
    # Groups are not Steps to a type checker: a mapping holding them is typed dict[str, Any].
    steps: dict[str, Any] = {
        "prepare": SequentialGroup(Mark("account"), Mark("welcome")),
        "checks": ParallelGroup(Mark("id"), SequentialGroup(Mark("refs"), review), callback=Tally("tally")),
        "route": ConditionalGroup(lambda c: c.get("plan"), {"big": Mark("big"), "small": Mark("small")}),
        "done": Mark("done"),
    }
    return WorkflowDefinition(
        "onboarding",
        version,
        "groups of every kind, a human step inside a parallel group",
        steps=steps,
        edges=[Edge("prepare", "checks"), Edge("checks", "route"), Edge("route", "done")],
        initial_step="prepare",
        terminal_steps={"done"},
    )


def test_groups_expand_into_named_steps_gateways_and_joins() -> None:
    definition = onboarding()
    assert definition.validate() == []
    steps = definition.steps
    assert list(steps) == [
        "prepare.account",
        "prepare.welcome",
        "checks",
        "checks.id",
        "checks.2.refs",
        "checks.2.review",
        "checks.tally",
        "route",
        "route.big",
        "route.small",
        "route.end",
        "done",
    ]
    assert definition.initial_step == "prepare.account"
    assert steps["checks"].step_type is StepType.GATEWAY
    assert definition.graph.is_join("checks.tally")
    assert definition.graph.get_previous_steps("checks") == ["prepare.welcome"]
    assert set(definition.graph.targets_of("route")) == {"route.big", "route.small", "route.end"}


async def test_a_group_workflow_waits_inside_the_group_and_resumes_after_a_restart(database_url: str) -> None:
    registry = WorkflowRegistry()
    registry.register_definition(onboarding())
    first = SQLAlchemyPersistence(url=database_url, create_all=True)
    engine = LocalExecutionEngine(registry, first)
    started = await engine.start_workflow("onboarding", {"plan": "big"})
    waiting = await engine.wait_for(started.id, timeout=10)
    assert waiting.status is WorkflowStatus.WAITING
    assert [task.step_name for task in await engine.get_tasks(started.id)] == ["checks.2.review"]
    await engine.stop(0)
    await first.close()

    second = SQLAlchemyPersistence(url=database_url)
    restarted = LocalExecutionEngine(registry, second)
    await restarted.start()
    try:
        await restarted.complete_human_task(started.id, "checks.2.review", "ann", {"ok": True})
        done = await restarted.wait_for(started.id, timeout=10)
    finally:
        await restarted.stop(0)
        await second.close()
    assert done.status is WorkflowStatus.COMPLETED, done.error
    ran = [entry.step_name for entry in done.context.step_history]
    assert ran.count("checks.tally") == 1  # the callback joined both branches, once
    assert done.data["checks done"] == 2
    assert "ran route.big" in done.data
    assert "ran route.small" not in done.data
    assert ran[-2:] == ["route.end", "done"]


async def test_a_conditional_group_naming_no_branch_goes_straight_on() -> None:
    engine = LocalExecutionEngine(WorkflowRegistry())
    steps: dict[str, Any] = {
        "route": ConditionalGroup(lambda c: c.get("plan"), {"big": Mark("big")}),
        "done": Mark("done"),
    }
    definition = WorkflowDefinition(
        "pick",
        "1",
        "",
        steps,
        [Edge("route", "done")],
        initial_step="route",
        terminal_steps={"done"},
    )
    started = await engine.start_workflow(definition, {"plan": "unknown"})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert [entry.step_name for entry in done.context.step_history] == ["route", "route.end", "done"]


async def test_a_step_under_another_key_runs_as_a_copy_named_by_the_key() -> None:
    shared = Mark("mark")
    first = WorkflowDefinition("first", "1", "", {"one": shared, "two": shared}, [Edge("one", "two")], "one", {"two"})
    second = WorkflowDefinition("second", "1", "", {"mark": shared}, [], "mark", {"mark"})
    assert shared.name == "mark"  # the shared object is not renamed
    assert second.steps["mark"] is shared
    assert [step.name for step in first.steps.values()] == ["one", "two"]
    assert first.steps["one"] is not shared
    assert first.validate() == []

    engine = LocalExecutionEngine(WorkflowRegistry())
    done = await engine.wait_for((await engine.start_workflow(first)).id, timeout=5)
    assert [entry.step_name for entry in done.context.step_history] == ["one", "two"]
    assert {"ran one", "ran two"} <= set(done.data)
    again = await engine.wait_for((await engine.start_workflow(second)).id, timeout=5)
    assert "ran mark" in again.data


def test_a_group_step_clashing_with_another_key_is_refused() -> None:
    steps: dict[str, Any] = {"prep": SequentialGroup(Mark("a")), "prep.a": Mark("x")}
    with pytest.raises(WorkflowValidationError, match=r"'prep\.a' is used twice"):
        WorkflowDefinition(
            "clash",
            "1",
            "",
            steps,
            [Edge("prep", "prep.a")],
            "prep",
            {"prep.a"},
        )


def test_a_step_that_cannot_be_renamed_is_refused_with_the_reason() -> None:
    class Fixed(BaseMachineStep):
        __slots__ = ()

        @property
        def name(self) -> str:  # type: ignore[override]  # a read-only name, which a copy cannot change
            return "fixed"

    steps: dict[str, Any] = {"other": Fixed()}
    with pytest.raises(WorkflowValidationError, match="register it under its own name"):
        WorkflowDefinition("ro", "1", "", steps, [], "other", {"other"})


async def test_groups_run_directly_through_the_engine_as_in_03() -> None:
    engine = LocalExecutionEngine(WorkflowRegistry())
    seen: list[Any] = []

    class Echo(BaseMachineStep):
        async def execute(self, ctx: WorkflowContext) -> Any:
            seen.append(ctx.get("_previous_result"))
            return self.name

    context = WorkflowContext(uuid4(), uuid4(), {}, {}, "start", [], datetime.now(UTC))
    assert await SequentialGroup(Echo("a"), Echo("b")).execute(context, engine) == "b"
    assert seen == [None, "a"]
    assert await ParallelGroup(Echo("x"), Echo("y"), callback=Echo("cb")).execute(context, engine) == "cb"
    assert context.get("_previous_result") == ["x", "y"]
    assert await ConditionalGroup(lambda c: "no", {"yes": Echo("yes")}).execute(context, engine) is None
