"""What a task completion may change: form-less steps, JSON Schema forms with $ref, typed forms."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Annotated, Any, Generic, NotRequired, TypedDict, TypeVar
from uuid import UUID

import msgspec
import pytest

from litestar_workflows import (
    BaseHumanStep,
    LocalExecutionEngine,
    TaskStatus,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowRegistry,
    WorkflowStatus,
    WorkflowValidationError,
)
from litestar_workflows.db import SQLAlchemyPersistence
from tests.helpers import FuncStep, SetStep, chain


class Item(msgspec.Struct):
    sku: str
    quantity: Annotated[int, msgspec.Meta(gt=0)]


class Decision(msgspec.Struct, kw_only=True):
    """The approver's answer."""

    approved: bool
    comment: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    decided_at: dt.datetime | None = None
    limit: Decimal = Decimal("100")
    items: list[Item] = []


@dataclasses.dataclass
class Note:
    text: str
    urgent: bool = False


class Rating(TypedDict):
    stars: int
    remark: NotRequired[str]


def human_chain(name: str, step: BaseHumanStep, *after: Any) -> WorkflowDefinition:
    return chain(name, [SetStep("submit", "amount", 500), step, *after, SetStep("end", "ended", True)])


async def waiting_at(engine: LocalExecutionEngine, definition: WorkflowDefinition, **data: Any) -> Any:
    started = await engine.start_workflow(definition, data)
    waiting = await engine.wait_for(started.id, timeout=5)
    assert waiting.status is WorkflowStatus.WAITING, waiting.error
    return waiting


@pytest.fixture
async def sql_engine(database_url: str) -> AsyncIterator[LocalExecutionEngine]:
    persistence = SQLAlchemyPersistence(url=database_url, create_all=True)
    engine = LocalExecutionEngine(WorkflowRegistry(), persistence)
    yield engine
    await engine.stop(0)
    await persistence.close()


# --- steps without a form -----------------------------------------------------------------------


async def refuses_data_without_a_form(engine: LocalExecutionEngine) -> None:
    waiting = await waiting_at(engine, human_chain("formless", BaseHumanStep("review")), requester="ann")
    with pytest.raises(WorkflowValidationError, match="step 'review' has no form; it accepts no data") as raised:
        await engine.complete_human_task(waiting.id, "review", "mallory", {"amount": 1, "requester": "mallory"})
    assert set(raised.value.fields) == {"amount", "requester"}
    assert "'amount', 'requester'" in str(raised.value)

    after = await engine.get_instance(waiting.id)
    assert after.data == {"requester": "ann", "amount": 500}
    assert after.status is WorkflowStatus.WAITING
    assert [task.status for task in await engine.get_tasks(waiting.id, status=None)] == [TaskStatus.OPEN]

    await engine.complete_human_task(waiting.id, "review", "bob", {})  # an empty object is accepted
    done = await engine.wait_for(waiting.id, timeout=5)
    assert done.data == {"requester": "ann", "amount": 500, "ended": True}


async def test_a_step_without_a_form_refuses_data(engine: LocalExecutionEngine) -> None:
    await refuses_data_without_a_form(engine)


async def test_a_step_without_a_form_refuses_data_on_sql(sql_engine: LocalExecutionEngine) -> None:
    await refuses_data_without_a_form(sql_engine)


async def test_accept_any_data_opts_in_to_merging_every_key(engine: LocalExecutionEngine) -> None:
    definition = human_chain("opt_in", BaseHumanStep("review", accept_any_data=True))
    waiting = await waiting_at(engine, definition)
    await engine.complete_human_task(waiting.id, "review", "bob", {"amount": 7, "note": "fine"})
    done = await engine.wait_for(waiting.id, timeout=5)
    assert (done.data["amount"], done.data["note"]) == (7, "fine")


def test_step_options_that_contradict_each_other_are_refused() -> None:
    with pytest.raises(ValueError, match="accept_any_data is for steps without a form"):
        BaseHumanStep("x", form_schema={"type": "object", "properties": {"a": {}}}, accept_any_data=True)
    with pytest.raises(ValueError, match="accept_any_data is for steps without a form"):
        BaseHumanStep("x", form=Decision, accept_any_data=True)
    with pytest.raises(ValueError, match="give form or form_schema, not both"):
        BaseHumanStep("x", form=Decision, form_schema={"type": "object", "properties": {"a": {}}})
    for not_a_form in (int, list[str], dict[str, Any]):
        with pytest.raises(TypeError, match="give a msgspec Struct, a dataclass or a TypedDict"):
            BaseHumanStep("x", form=not_a_form)


# --- JSON Schema forms ----------------------------------------------------------------------------


async def test_a_schema_made_by_msgspec_merges_its_fields(engine: LocalExecutionEngine) -> None:
    schema = msgspec.json.schema(Note)
    assert "properties" not in schema  # {"$ref": "#/$defs/Note", "$defs": {...}}
    definition = human_chain("raw_msgspec", BaseHumanStep("review", form_schema=schema))
    waiting = await waiting_at(engine, definition)
    with pytest.raises(WorkflowValidationError) as raised:
        await engine.complete_human_task(waiting.id, "review", "bob", {"urgent": "very"})
    assert set(raised.value.fields) == {"text", "urgent"}  # validated against the full schema
    await engine.complete_human_task(waiting.id, "review", "bob", {"text": "ok", "urgent": True, "amount": 1})
    done = await engine.wait_for(waiting.id, timeout=5)
    assert (done.data["text"], done.data["urgent"], done.data["amount"]) == ("ok", True, 500)


async def test_all_of_and_draft_7_definitions_are_resolved(engine: LocalExecutionEngine) -> None:
    schema = {
        "allOf": [{"$ref": "#/definitions/Base"}, {"properties": {"extra": {"type": "integer"}}}],
        "definitions": {"Base": {"type": "object", "properties": {"text": {"type": "string"}}}},
    }
    step = BaseHumanStep("review", form_schema=schema)
    assert step.form_fields() == frozenset({"text", "extra"})
    waiting = await waiting_at(engine, human_chain("all_of", step))
    await engine.complete_human_task(waiting.id, "review", "bob", {"text": "t", "extra": 2, "amount": 0})
    done = await engine.wait_for(waiting.id, timeout=5)
    assert (done.data["text"], done.data["extra"], done.data["amount"]) == ("t", 2, 500)


UNDETERMINABLE: dict[str, tuple[dict[str, Any], str]] = {
    "no properties": ({"type": "object"}, "declares no properties"),
    "only a $defs entry without properties": (
        {"$ref": "#/$defs/Any", "$defs": {"Any": {"type": "object"}}},
        "declares no properties",
    ),
    "oneOf at the top": (
        {"oneOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}]},
        "oneOf at the top",
    ),
    "anyOf behind a $ref": (
        {"$ref": "#/$defs/Either", "$defs": {"Either": {"anyOf": [{"properties": {"a": {}}}]}}},
        "anyOf at the top",
    ),
    "patternProperties": (
        {"type": "object", "properties": {"a": {}}, "patternProperties": {"^x_": {"type": "string"}}},
        "patternProperties",
    ),
    "free-form additionalProperties": (
        {"type": "object", "additionalProperties": {"type": "string"}},
        "additionalProperties schema",
    ),
    "not an object": ({"type": "array", "items": {"type": "string"}}, "its type is 'array'"),
    "a $ref to a missing entry": ({"$ref": "#/$defs/Gone", "$defs": {}}, "'#/$defs/Gone' does not name an entry"),
    "a remote $ref": ({"$ref": "https://example.com/form.json"}, "does not name an entry"),
    "a $ref to a boolean schema": ({"$ref": "#/$defs/Any", "$defs": {"Any": True}}, "not an object schema"),
    "a $ref loop": (
        {"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A"}}},
        "refers back to itself",
    ),
}


@pytest.mark.parametrize("case", list(UNDETERMINABLE))
def test_a_schema_whose_merged_keys_cannot_be_determined_is_refused_at_registration(case: str) -> None:
    schema, reason = UNDETERMINABLE[case]
    definition = human_chain("unclear", BaseHumanStep("review", form_schema=schema))
    with pytest.raises(WorkflowValidationError, match="workflow 'unclear' is invalid") as raised:
        WorkflowRegistry().register_definition(definition)
    [problem] = raised.value.errors
    assert problem.startswith("form schema of step 'review' does not tell which fields it merges")
    assert reason in problem


# --- typed forms ----------------------------------------------------------------------------------


def test_the_schema_of_a_typed_form_is_derived_and_inlined() -> None:
    step = BaseHumanStep("approve", form=Decision)
    schema = step.form_schema
    assert schema is not None
    assert schema["properties"]["approved"] == {"type": "boolean"}
    assert schema["required"] == ["approved"]
    assert schema["additionalProperties"] is False  # unknown keys are refused
    assert schema["description"] == "The approver's answer."
    assert schema["$defs"]["Item"]["required"] == ["sku", "quantity"]
    assert step.form_fields() == frozenset({"approved", "comment", "decided_at", "limit", "items"})


async def typed_refusals(engine: LocalExecutionEngine) -> None:
    waiting = await waiting_at(engine, human_chain("typed", BaseHumanStep("approve", form=Decision)))
    bad = {"approved": "yes", "comment": "x" * 30, "items": [{"sku": "a", "quantity": 0}], "amount": 1}
    with pytest.raises(WorkflowValidationError, match="data for step 'approve' does not match Decision") as raised:
        await engine.complete_human_task(waiting.id, "approve", "bob", bad)
    assert raised.value.fields == {
        "amount": "is not a field of Decision",
        "approved": "Expected `bool`, got `str`",
        "comment": "Expected `str` of length <= 20",
        "items.0.quantity": "Expected `int` >= 1",
    }
    with pytest.raises(WorkflowValidationError) as missing:
        await engine.complete_human_task(waiting.id, "approve", "bob", {"comment": "hm"})
    assert missing.value.fields == {"approved": "is required"}
    with pytest.raises(WorkflowValidationError) as unknown:
        await engine.complete_human_task(waiting.id, "approve", "bob", {"approved": True, "aproved_by": "me"})
    assert unknown.value.fields == {"aproved_by": "is not a field of Decision"}

    after = await engine.get_instance(waiting.id)
    assert after.data == {"amount": 500}
    assert [task.status for task in await engine.get_tasks(waiting.id, status=None)] == [TaskStatus.OPEN]


async def test_a_typed_form_names_every_bad_field(engine: LocalExecutionEngine) -> None:
    await typed_refusals(engine)


async def test_a_typed_form_names_every_bad_field_on_sql(sql_engine: LocalExecutionEngine) -> None:
    await typed_refusals(sql_engine)


async def typed_merge_and_read_back(engine: LocalExecutionEngine) -> None:
    seen: list[Decision] = []

    async def use_the_decision(context: WorkflowContext) -> None:
        seen.append(context.get_form(Decision))

    definition = human_chain("typed_merge", BaseHumanStep("approve", form=Decision), FuncStep("use", use_the_decision))
    waiting = await waiting_at(engine, definition)
    submitted: dict[str, Any] = {"approved": True, "decided_at": "2026-12-01T10:30:00+00:00", "limit": "12.50"}
    submitted["items"] = [{"sku": "pen", "quantity": 3}]
    await engine.complete_human_task(waiting.id, "approve", "bob", submitted)
    done = await engine.wait_for(waiting.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED, done.error

    when = dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC)
    expected: dict[str, Any] = {"approved": True, "comment": None, "decided_at": when, "limit": Decimal("12.50")}
    expected["items"] = [{"sku": "pen", "quantity": 3}]
    assert {key: done.data[key] for key in expected} == expected  # defaults included, values typed
    assert type(done.data["limit"]) is Decimal and type(done.data["decided_at"]) is dt.datetime
    assert seen == [Decision(approved=True, decided_at=when, limit=Decimal("12.50"), items=[Item("pen", 3)])]
    assert WorkflowContext(done.id, done.id, done.data, {}, "x", [], when).get_form(Decision) == seen[0]


async def test_a_typed_form_merges_its_fields_and_reads_back_typed(engine: LocalExecutionEngine) -> None:
    await typed_merge_and_read_back(engine)


async def test_a_typed_form_merges_its_fields_and_reads_back_typed_on_sql(sql_engine: LocalExecutionEngine) -> None:
    await typed_merge_and_read_back(sql_engine)


async def test_dataclass_and_typed_dict_forms(engine: LocalExecutionEngine) -> None:
    definition = chain("two_forms", [BaseHumanStep("note", form=Note), BaseHumanStep("rate", form=Rating)])
    waiting = await waiting_at(engine, definition)
    with pytest.raises(WorkflowValidationError) as raised:
        await engine.complete_human_task(waiting.id, "note", "ann", {"text": 3, "colour": "red"})
    assert raised.value.fields == {"text": "Expected `str`, got `int`", "colour": "is not a field of Note"}
    await engine.complete_human_task(waiting.id, "note", "ann", {"text": "hi"})
    with pytest.raises(WorkflowValidationError) as rating:
        await engine.complete_human_task(waiting.id, "rate", "ann", {"stars": "5"})
    assert rating.value.fields == {"stars": "Expected `int`, got `str`"}
    await engine.complete_human_task(waiting.id, "rate", "ann", {"stars": 5})
    done = await engine.wait_for(waiting.id, timeout=5)
    assert done.data == {"text": "hi", "urgent": False, "stars": 5}
    context = WorkflowContext(done.id, done.id, done.data, {}, "x", [], dt.datetime.now(dt.UTC))
    assert context.get_form(Note) == Note("hi")
    assert context.get_form(Rating) == {"stars": 5}


def test_reading_back_a_form_that_was_not_submitted_names_the_missing_field() -> None:
    context = WorkflowContext(UUID(int=1), UUID(int=1), {"comment": "x"}, {}, "x", [], dt.datetime.now(dt.UTC))
    with pytest.raises(WorkflowValidationError, match="the data holds no valid Decision") as raised:
        context.get_form(Decision)
    assert raised.value.fields == {"approved": "is required"}


@dataclasses.dataclass
class Span:
    first: int
    last: int

    def __post_init__(self) -> None:
        if self.last < self.first:
            msg = "last must not be before first"
            raise ValueError(msg)


ValueT = TypeVar("ValueT")


class Box(msgspec.Struct, Generic[ValueT]):
    value: ValueT
    label: str = ""


async def test_a_check_of_the_whole_form_and_a_generic_form(engine: LocalExecutionEngine) -> None:
    definition = chain("whole", [BaseHumanStep("span", form=Span), BaseHumanStep("box", form=Box[int])])
    waiting = await waiting_at(engine, definition)
    with pytest.raises(WorkflowValidationError) as raised:
        await engine.complete_human_task(waiting.id, "span", "ann", {"first": 3, "last": 1})
    assert raised.value.fields == {"(form)": "last must not be before first"}
    await engine.complete_human_task(waiting.id, "span", "ann", {"first": 1, "last": 3})
    with pytest.raises(WorkflowValidationError, match="does not match Box") as boxed:
        await engine.complete_human_task(waiting.id, "box", "ann", {"value": "x"})
    assert boxed.value.fields == {"value": "Expected `int`, got `str`"}
    await engine.complete_human_task(waiting.id, "box", "ann", {"value": 4})
    done = await engine.wait_for(waiting.id, timeout=5)
    assert done.data == {"first": 1, "last": 3, "value": 4, "label": ""}


class Locked(msgspec.Struct):
    lock: threading.Lock


def test_a_type_msgspec_cannot_describe_is_no_form() -> None:
    with pytest.raises(TypeError, match=r"cannot be used as a form: Type .* is not supported"):
        BaseHumanStep("x", form=Locked)
