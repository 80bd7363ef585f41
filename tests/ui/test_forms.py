"""Forms from JSON Schemas and posted forms back to JSON data (``litestar_workflows.ui.forms``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import pytest

from examples.expense.app import ExpenseRequest, ManagerDecision
from litestar_workflows.core.form_types import form_type_schema
from litestar_workflows.ui.forms import DATA_FIELD, FormField, form_fields, read_form

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "count": {"type": "integer", "minimum": 1, "maximum": 9, "title": "How many"},
        "price": {"type": "number"},
        "size": {"enum": ["S", "M", "L"]},
        "level": {"enum": [1, 2]},
        "urgent": {"type": "boolean"},
        "ok": {"type": "boolean"},
        "when": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "note": {"type": "string", "maxLength": 1000, "description": "Anything else"},
        "name": {"type": "string", "maxLength": 20, "minLength": 2},
    },
    "required": ["count", "urgent", "ok"],
}


def by_name(fields: list[FormField]) -> dict[str, FormField]:
    return {field.name: field for field in fields}


def test_each_schema_type_gets_its_input() -> None:
    fields = by_name(form_fields(SCHEMA))
    assert {name: field.kind for name, field in fields.items()} == {
        "count": "integer",
        "price": "number",
        "size": "select",
        "level": "select",
        "urgent": "boolean",  # two required booleans: yes/no choices, the form has a submit button
        "ok": "boolean",
        "when": "date",
        "at": "datetime",
        "tags": "json",
        "note": "textarea",
        "name": "text",
    }
    assert fields["count"].label == "How many"
    assert fields["count"].required and not fields["price"].required
    assert fields["count"].attributes == {"step": "1", "min": "1", "max": "9"}
    assert fields["price"].attributes == {"step": "any"}
    assert fields["name"].attributes == {"maxlength": "20", "minlength": "2"}
    assert fields["size"].options == (("S", "S"), ("M", "M"), ("L", "L"))
    assert fields["level"].options == (("1", "1"), ("2", "2"))
    assert fields["note"].description == "Anything else"
    assert fields["when"].label == "When"


def test_a_forms_only_required_boolean_is_its_approve_reject_decision() -> None:
    schema = form_type_schema(ManagerDecision)
    fields = by_name(form_fields(schema))
    assert fields["manager_approved"].kind == "decision"
    assert fields["manager_approved"].label == "Approve this expense?"
    # ``Comment | None``: an optional text field with the inner type's title and limits
    assert (fields["manager_comment"].kind, fields["manager_comment"].required) == ("textarea", False)
    assert fields["manager_comment"].label == "Comment"
    assert fields["manager_comment"].attributes == {"maxlength": "500"}


def test_a_start_input_type_through_its_ref() -> None:
    class Wrapped(msgspec.Struct):
        size: Literal["S", "M"]
        amount: Annotated[float, msgspec.Meta(gt=0)]

    referenced = msgspec.json.schema(Wrapped)  # {"$ref": "#/$defs/Wrapped", "$defs": {...}}
    assert "$ref" in referenced
    fields = by_name(form_fields(referenced))
    assert (fields["size"].kind, fields["amount"].kind) == ("select", "number")
    assert fields["amount"].attributes == {"step": "any"}  # an exclusive minimum has no HTML attribute
    assert by_name(form_fields(form_type_schema(ExpenseRequest)))["description"].label == "What it was for"


def test_all_of_parts_are_merged() -> None:
    schema = {"allOf": [{"properties": {"a": {"type": "string"}}, "required": ["a"]}, {"properties": {"b": {}}}]}
    fields = by_name(form_fields(schema))
    assert (fields["a"].required, fields["b"].kind) == (True, "json")


def test_posted_strings_become_the_schemas_json_values() -> None:
    posted = {
        "count": "3",
        "price": "2.50",
        "size": "M",
        "level": "2",
        "urgent": "false",
        "ok": "true",
        "when": "2026-12-24",
        "at": "2026-12-24T10:30",
        "tags": '["a", "b"]',
        "note": "",  # empty: left out, so a required field is reported missing by the engine
        "_csrf_token": "x",  # not a field: ignored
    }
    data, errors = read_form(SCHEMA, posted)
    assert errors == {}
    assert data == {
        "count": 3,
        "price": 2.5,
        "size": "M",
        "level": 2,
        "urgent": False,
        "ok": True,
        "when": "2026-12-24",
        "at": "2026-12-24T10:30:00Z",
        "tags": ["a", "b"],
    }
    assert read_form(SCHEMA, {"price": "2500"})[0] == {"price": 2500}  # a whole number stays an int


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("count", "2.5", "must be a whole number"),
        ("price", "lots", "must be a number"),
        ("price", "inf", "must be a finite number"),
        ("size", "XL", "choose one of the options"),
        ("urgent", "maybe", "choose yes or no"),
        ("tags", "[unclosed", "is not valid JSON"),
        ("tags", "[NaN]", "is not valid JSON (NaN is no JSON number)"),
        ("tags", '["a", -Infinity]', "is not valid JSON (-Infinity is no JSON number)"),
        ("tags", "[" * 100_000 + "]" * 100_000, "is nested too deeply"),
    ],
)
def test_what_cannot_be_converted_is_reported_per_field(field: str, text: str, message: str) -> None:
    data, errors = read_form(SCHEMA, {field: text, "name": "ok"})
    assert errors == {field: message}
    assert data == {"name": "ok"}


def test_a_form_without_schema_takes_one_json_object() -> None:
    [field] = form_fields(None)
    assert (field.name, field.kind, field.value) == (DATA_FIELD, "json", "{}")
    assert read_form(None, {DATA_FIELD: '{"a": 1}'}) == ({"a": 1}, {})
    assert read_form(None, {DATA_FIELD: ""}) == ({}, {})
    assert read_form(None, {DATA_FIELD: "[1]"}) == ({}, {DATA_FIELD: "must be a JSON object ({...})"})
    assert read_form(None, {DATA_FIELD: "{"}) == ({}, {DATA_FIELD: "is not valid JSON"})
    assert read_form(None, {DATA_FIELD: '{"x": Infinity}'}) == (
        {},
        {DATA_FIELD: "is not valid JSON (Infinity is no JSON number)"},
    )
    assert read_form(None, {DATA_FIELD: '{"x": ' + "[" * 100_000}) == ({}, {DATA_FIELD: "is nested too deeply"})
    [again] = form_fields(None, {DATA_FIELD: "{"}, {DATA_FIELD: "is not valid JSON"})
    assert (again.value, again.error) == ("{", "is not valid JSON")


def test_values_and_errors_come_back_into_the_fields() -> None:
    fields = by_name(
        form_fields(
            SCHEMA,
            {"count": "x", "urgent": True, "level": 2, "tags": ["a"]},
            {"count": "must be a whole number", "tags.0": "too short", "tags.1": "too long"},
        )
    )
    assert (fields["count"].value, fields["count"].error) == ("x", "must be a whole number")
    assert fields["urgent"].value == "true"
    assert fields["level"].value == "2"
    assert fields["tags"].value == '[\n  "a"\n]'
    assert fields["tags"].error == "tags.0: too short; tags.1: too long"
    assert fields["price"].error is None
