"""Typed start input: data that does not fit the workflow's input type starts nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
import pytest

from litestar_workflows import (
    LocalExecutionEngine,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowRegistry,
    WorkflowStatus,
    WorkflowValidationError,
)
from litestar_workflows.db import SQLAlchemyPersistence
from tests.helpers import FuncStep, SetStep, chain

PositiveAmount = Annotated[float, msgspec.Meta(gt=0)]


class ExpenseRequest(msgspec.Struct, kw_only=True):
    amount: PositiveAmount
    description: Annotated[str, msgspec.Meta(min_length=1)]
    currency: str = "EUR"


def expense(name: str = "expense", input_type: Any = ExpenseRequest) -> WorkflowDefinition:
    async def submit(context: WorkflowContext) -> float:
        request = context.get_form(ExpenseRequest)
        context.set("summary", f"{request.amount:.2f} {request.currency} for {request.description}")
        return request.amount

    definition = chain(name, [FuncStep("submit", submit), SetStep("end", "ended", True)])
    definition.input_type = input_type
    return definition


@pytest.fixture
async def sql_engine(database_url: str) -> AsyncIterator[LocalExecutionEngine]:
    persistence = SQLAlchemyPersistence(url=database_url, create_all=True)
    engine = LocalExecutionEngine(WorkflowRegistry(), persistence)
    yield engine
    await engine.stop(0)
    await persistence.close()


async def refuses_bad_start_data(engine: LocalExecutionEngine) -> None:
    definition = expense()
    cases: list[tuple[dict[str, Any] | None, dict[str, str]]] = [
        ({"amount": "lots", "description": "x"}, {"amount": "Expected `float`, got `str`"}),
        ({"amount": -5}, {"amount": "Expected `float` > 0.0", "description": "is required"}),
        ({"amount": 5, "description": "x", "requester": "me"}, {"requester": "is not a field of ExpenseRequest"}),
        (None, {"amount": "is required", "description": "is required"}),
    ]
    for bad, fields in cases:
        with pytest.raises(WorkflowValidationError, match="start data of workflow 'expense' does not match") as raised:
            await engine.start_workflow(definition, bad)
        assert raised.value.fields == fields
    not_an_object: Any = ["amount", 5]  # what an untyped caller may pass
    with pytest.raises(WorkflowValidationError, match="start data of workflow 'expense' must be a JSON object"):
        await engine.start_workflow(definition, not_an_object)
    assert await engine.persistence.list_instances() == []

    started = await engine.start_workflow(definition, {"amount": 12, "description": "taxi"})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED, done.error
    assert done.data["summary"] == "12.00 EUR for taxi"
    assert {key: done.data[key] for key in ("amount", "description", "currency")} == {
        "amount": 12.0,
        "description": "taxi",
        "currency": "EUR",
    }
    assert type(done.data["amount"]) is float
    assert [instance.id for instance in await engine.persistence.list_instances()] == [started.id]


async def test_start_data_that_does_not_fit_the_input_type_starts_nothing(engine: LocalExecutionEngine) -> None:
    await refuses_bad_start_data(engine)


async def test_start_data_that_does_not_fit_the_input_type_starts_nothing_on_sql(
    sql_engine: LocalExecutionEngine,
) -> None:
    await refuses_bad_start_data(sql_engine)


async def test_trusted_data_is_added_after_the_check(engine: LocalExecutionEngine) -> None:
    started = await engine.start_workflow(
        expense(), {"amount": 3, "description": "pens"}, trusted_data={"requester": "ann", "currency": "USD"}
    )
    assert (started.data["requester"], started.data["currency"]) == ("ann", "USD")


async def test_without_an_input_type_any_data_starts(engine: LocalExecutionEngine) -> None:
    definition = chain("untyped", [SetStep("end", "ended", True)])
    started = await engine.start_workflow(definition, {"amount": "lots"}, trusted_data={"requester": "ann"})
    assert started.data == {"amount": "lots", "requester": "ann"}
    assert definition.input_schema is None


def test_the_input_schema_is_derived_from_the_input_type() -> None:
    schema = expense().input_schema
    assert schema is not None
    assert schema["properties"]["amount"] == {"type": "number", "exclusiveMinimum": 0}
    assert (schema["required"], schema["additionalProperties"]) == (["amount", "description"], False)


@dataclasses.dataclass
class Greeting:
    who: str


class GreetingFlow:
    name = "greeting"
    version = "1"
    description = "greets"
    input_type = Greeting

    @classmethod
    def get_definition(cls) -> WorkflowDefinition:
        return chain(cls.name, [SetStep("end", "ended", True)])


async def test_a_workflow_class_declares_its_input_type(engine: LocalExecutionEngine) -> None:
    with pytest.raises(WorkflowValidationError) as raised:
        await engine.start_workflow(GreetingFlow, {"who": 1})
    assert raised.value.fields == {"who": "Expected `str`, got `int`"}
    assert engine.registry.get_definition("greeting").input_type is Greeting
    started = await engine.start_workflow("greeting", {"who": "ada"})
    assert started.data == {"who": "ada"}


def test_an_input_type_the_class_and_its_definition_disagree_on_is_refused() -> None:
    class Confused(GreetingFlow):
        @classmethod
        def get_definition(cls) -> WorkflowDefinition:
            return expense("greeting")

    with pytest.raises(WorkflowValidationError, match="input_type"):
        WorkflowRegistry().register(Confused)


@pytest.mark.parametrize("not_a_form", [int, dict[str, Any], "ExpenseRequest"])
def test_an_input_type_that_is_no_form_is_refused_at_registration(not_a_form: Any) -> None:
    with pytest.raises(WorkflowValidationError, match="workflow 'odd' is invalid") as raised:
        WorkflowRegistry().register_definition(expense("odd", not_a_form))
    [problem] = raised.value.errors
    assert problem.startswith("input type: ") and "Struct, a dataclass or a TypedDict" in problem
