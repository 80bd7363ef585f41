"""``started_by``: recorded at the start, kept through every later change on every engine path.

Every change is a command applied by the reducer, which copies the committed state; whatever the
command (a step's success, a task's completion, a signal), the starter stays. Who starts a
workflow class may be declared on it.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from litestar_workflows import (
    BaseHumanStep,
    InMemoryEventBus,
    InMemoryPersistence,
    LocalExecutionEngine,
    Step,
    WorkflowDefinition,
    WorkflowRegistry,
    WorkflowStatus,
)
from tests.helpers import SetStep, chain


@pytest.mark.parametrize("event_bus", [None, InMemoryEventBus()], ids=["no event bus", "event bus"])
async def test_started_by_survives_machine_steps_and_task_completions(event_bus: InMemoryEventBus | None) -> None:
    registry = WorkflowRegistry()
    persistence = InMemoryPersistence()
    engine = LocalExecutionEngine(registry, persistence, event_bus)
    steps: list[Step] = [
        SetStep("one", "a", 1),
        SetStep("two", "b", 2),
        BaseHumanStep("approve"),
        SetStep("three", "c", 3),
    ]
    registry.register_definition(chain("chained", steps))
    try:
        started = await engine.start_workflow("chained", started_by="alice")
        assert started.started_by == "alice"
        waiting = await engine.wait_for(started.id, 5)
        assert (waiting.status, waiting.started_by) == (WorkflowStatus.WAITING, "alice")
        [task] = await persistence.list_tasks(instance_id=started.id)
        await engine.complete_task(task.id, "bob", {})
        done = await engine.wait_for(started.id, 5)
        assert (done.status, done.started_by, done.context.user_id) == (WorkflowStatus.COMPLETED, "alice", "bob")
        stored = await persistence.load_instance(started.id)
        assert stored is not None and stored.started_by == "alice"
        nobody = await engine.start_workflow("chained")
        assert nobody.started_by is None
    finally:
        await engine.stop(0)


def _payroll(start_groups: frozenset[str] | str = frozenset()) -> WorkflowDefinition:
    definition = chain("payroll", [SetStep("pay")])
    if start_groups:
        definition = WorkflowDefinition(
            definition.name,
            definition.version,
            definition.description,
            definition.steps,
            definition.edges,
            definition.initial_step,
            definition.terminal_steps,
            start_groups=start_groups,
        )
    return definition


class Payroll:
    """A workflow class declaring who may start it."""

    name = "payroll"
    version = "1"
    description = "Pay everyone."
    start_groups: ClassVar[list[str]] = ["hr", "finance"]

    @classmethod
    def get_definition(cls) -> WorkflowDefinition:
        return _payroll()


def test_start_groups_come_from_the_definition_or_the_workflow_class() -> None:
    assert _payroll().start_groups == frozenset()
    assert _payroll("hr").start_groups == frozenset({"hr"})  # one name, not its letters
    assert _payroll(frozenset({"hr", "it"})).start_groups == frozenset({"hr", "it"})
    registry = WorkflowRegistry()
    assert registry.register(Payroll).start_groups == frozenset({"hr", "finance"})
    assert registry.get_definition("payroll").start_groups == frozenset({"hr", "finance"})
