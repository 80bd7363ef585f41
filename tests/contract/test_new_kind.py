"""A step kind defined here, in the test module, works without any change to the kernel.

The kind reserves an item from a stock when a token enters its step. Everything it needs comes
from its hooks: ``StepKind.problems`` (registration refuses an item that is not stocked), the
diagram's ``mermaid_shape`` and ``diagram_label``, an effect whose handler (registered with
``engine.effects``) writes the reservation in the commit that enters the step, whichever part of
the engine commits it, and an ending hook that records the release in the instance's last commit.
Runs on every persistence (``store``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

import pytest

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    LocalExecutionEngine,
    TransactionalStep,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowPersistence,
    WorkflowRegistry,
    WorkflowStatus,
    WorkflowValidationError,
)
from litestar_workflows.core.kinds import Entry, StepKind
from litestar_workflows.engine.draft import Transition
from litestar_workflows.engine.effects import register_effect, register_ending, unregister
from litestar_workflows.engine.runtime import InstanceRuntime
from tests.helpers import FuncStep, SetStep, chain

STOCK = {"paper": 10, "ink": 10, "gold": 0}


@dataclass(frozen=True, slots=True)
class Reserve:
    """The effect of entering a reserving step."""

    item: str


class _Reserving(StepKind):
    name = "reserving"
    mermaid_shape = "[({label})]"  # a cylinder: a store

    def enter(self, step: Any, context: Any) -> Entry:
        return Entry(effect=Reserve(step.item))  # runnable (its code runs), and something to do with the commit

    def problems(self, definition: WorkflowDefinition, registry: Any) -> list[str]:
        return [
            f"step {step.name!r} reserves {step.item!r}, which is not stocked"
            for step in definition.steps.values()
            if isinstance(step, ReserveStep) and step.item not in STOCK
        ]

    def diagram_label(self, name: str, step: Any) -> str:
        return f"{name}: {step.item}"


class ReserveStep(BaseMachineStep):
    step_kind: ClassVar[StepKind] = _Reserving()

    def __init__(self, name: str, item: str) -> None:
        super().__init__(name)
        self.item = item


async def reserve(runtime: InstanceRuntime, transition: Transition, token_id: str, effect: Reserve) -> None:
    if STOCK[effect.item] == 0:
        transition.fail(f"{effect.item} is out of stock")
        return
    data = transition.state.context.data
    data["reserved"] = [*data.get("reserved", []), effect.item]


async def release(runtime: InstanceRuntime, transition: Transition, source: UUID | None) -> None:
    data = transition.state.context.data
    if "reserved" in data:
        data["released"] = f"{transition.state.status.value} with {len(data['reserved'])} reservations"


@pytest.fixture(autouse=True)
def hooks() -> Iterator[None]:
    """The kind's handlers, registered as its module would on import, and forgotten after the test."""
    register_effect(Reserve, reserve)
    register_ending(release)
    yield
    unregister(reserve)
    unregister(release)


@pytest.fixture
async def engine(store: WorkflowPersistence) -> AsyncIterator[LocalExecutionEngine]:
    engine = LocalExecutionEngine(WorkflowRegistry(), store)
    yield engine
    await engine.stop(0)


class Stamp(TransactionalStep):
    async def execute(self, context: WorkflowContext) -> None:
        context.set("stamped", True)


async def _work(context: WorkflowContext) -> None:
    context.set("worked", True)


def supply() -> WorkflowDefinition:
    """Reserving steps entered by each kind of commit: a start, a task completion, a step, a transactional step."""
    return chain(
        "supply",
        [
            ReserveStep("first", "paper"),  # entered by the start's commit
            BaseHumanStep("approve"),
            ReserveStep("after approval", "ink"),  # by the task completion's commit
            FuncStep("work", _work),
            ReserveStep("after work", "paper"),  # by the commit of a step's result
            Stamp("stamp"),
            ReserveStep("after stamp", "ink"),  # by a transactional step's own commit
        ],
    )


async def test_each_commit_that_enters_the_step_carries_out_its_effect(engine: LocalExecutionEngine) -> None:
    started = await engine.start_workflow(supply())
    waiting = await engine.wait_for(started.id, timeout=10)
    assert waiting.status is WorkflowStatus.WAITING
    assert waiting.data == {"reserved": ["paper"]}  # committed with the start

    [task] = await engine.get_tasks(instance_id=started.id)
    await engine.complete_task(task.id, "ann", {})
    done = await engine.wait_for(started.id, timeout=10)

    assert done.status is WorkflowStatus.COMPLETED
    assert done.data == {
        "reserved": ["paper", "ink", "paper", "ink"],
        "worked": True,
        "stamped": True,
        "released": "completed with 4 reservations",  # the ending hook, in the last commit
    }
    stored = await engine.persistence.load_instance(started.id)
    assert stored is not None and stored.data == done.data


async def test_an_effect_that_fails_its_instance_fails_it_in_the_same_commit(engine: LocalExecutionEngine) -> None:
    definition = chain("gilding", [SetStep("prepare", "prepared", True), ReserveStep("gild", "gold"), SetStep("sell")])
    started = await engine.start_workflow(definition)
    failed = await engine.wait_for(started.id, timeout=10)

    assert (failed.status, failed.error) == (WorkflowStatus.FAILED, "gold is out of stock")
    assert failed.data == {"prepared": True}
    assert [execution.step_name for execution in failed.context.step_history] == ["prepare"]


def test_registration_asks_the_kind_what_it_refuses() -> None:
    definition = chain("alchemy", [ReserveStep("transmute", "philosopher's stone"), SetStep("sell")])
    with pytest.raises(WorkflowValidationError) as refused:
        WorkflowRegistry().register_definition(definition)
    assert refused.value.errors == ["step 'transmute' reserves \"philosopher's stone\", which is not stocked"]


def test_the_diagram_draws_the_kinds_shape() -> None:
    lines = chain("drawn", [ReserveStep("take", "ink"), SetStep("use")]).to_mermaid().splitlines()
    assert '    take[("take: ink")]' in lines
    assert '    use(["use"])' in lines


@dataclass(frozen=True, slots=True)
class Unhandled:
    """An effect no module registered a handler for."""


class _Forgetful(StepKind):
    name = "forgetful"

    def enter(self, step: Any, context: Any) -> Entry:
        return Entry(effect=Unhandled())


class ForgetfulStep(BaseMachineStep):
    step_kind: ClassVar[StepKind] = _Forgetful()


async def test_an_effect_without_a_handler_refuses_the_commit(engine: LocalExecutionEngine) -> None:
    definition = chain("forgetful", [ForgetfulStep("forget"), SetStep("after")])
    with pytest.raises(LookupError, match="no handler is registered for the effect Unhandled"):
        await engine.start_workflow(definition)
    assert await engine.persistence.list_instances() == []  # nothing half done


def test_an_effect_type_has_one_handler() -> None:
    async def another(runtime: InstanceRuntime, transition: Transition, token_id: str, effect: Reserve) -> None:
        """Would reserve twice."""

    with pytest.raises(ValueError, match="have a handler already"):
        register_effect(Reserve, another)
    register_effect(Reserve, reserve)  # the same handler again: a module imported twice
