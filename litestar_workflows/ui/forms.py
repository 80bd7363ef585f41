"""HTML forms from JSON Schemas (a task's form, a workflow's start input), and posted forms back to JSON data.

:func:`form_fields` turns an object schema into :class:`FormField` descriptions the templates render
(typed inputs, required markers, enums as selects, a lone required boolean as approve/reject
buttons, anything nested as a JSON text area). :func:`read_form` turns the posted strings back into
the JSON values the schema asks for; what cannot be converted is reported per field, in the words
the engine's own validation uses for everything else. The engine still validates the result: the
conversion only saves people from typing JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ("DATA_FIELD", "FormField", "form_fields", "read_form")

DATA_FIELD = "data"
"""The field of a form without a schema: the whole data as one JSON object."""

_DEFINITION_SECTIONS = ("$defs", "definitions")


@dataclass(frozen=True, slots=True)
class FormField:
    """One input of a form, as the templates render it."""

    name: str
    label: str
    kind: str
    """``text``, ``textarea``, ``number``, ``integer``, ``boolean``, ``decision`` (approve/reject
    buttons), ``select``, ``date``, ``datetime`` or ``json``."""
    required: bool
    description: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    """(value, label) of a select."""
    attributes: dict[str, str] = field(default_factory=dict)
    """Input attributes from the schema's constraints (``min``, ``maxlength``, ``step``, ...)."""
    value: str = ""
    """What the input shows (the posted value when a form comes back with errors)."""
    error: str | None = None


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    """``node``, or what its local ``$ref`` names (schemas from msgspec put types under ``$defs``)."""
    seen: set[str] = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"] not in seen:
        reference = node["$ref"]
        seen.add(reference)
        for section in _DEFINITION_SECTIONS:
            prefix = f"#/{section}/"
            definitions = root.get(section)
            if reference.startswith(prefix) and isinstance(definitions, Mapping):
                target = definitions.get(reference.removeprefix(prefix))
                if target is not None:
                    node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
                    break
        else:
            return node
    return node


def _object_parts(schema: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Properties and required names of an object schema, through a top-level ``$ref`` and ``allOf``."""
    node = _resolve(schema, schema)
    properties: dict[str, Any] = dict(node.get("properties") or {})
    required = set(node.get("required") or ())
    for part in node.get("allOf") or ():
        more, needed = _object_parts({**_resolve(part, schema), **_sections(schema)})
        properties.update(more)
        required |= needed
    return properties, required


def _sections(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {section: schema[section] for section in _DEFINITION_SECTIONS if section in schema}


def _unwrap_optional(node: Mapping[str, Any], root: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """The one non-null alternative of ``anyOf``/``oneOf`` (``str | None``), and whether null was allowed."""
    for keyword in ("anyOf", "oneOf"):
        choices = node.get(keyword)
        if isinstance(choices, list):
            real = [_resolve(choice, root) for choice in choices if _resolve(choice, root).get("type") != "null"]
            if len(real) == 1 and len(real) < len(choices):
                return {**real[0], **{k: v for k, v in node.items() if k != keyword}}, True
    return node, False


def _kind(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    if "enum" in node:
        return "select"
    if kind == "boolean":
        return "boolean"
    if kind == "integer":
        return "integer"
    if kind == "number":
        return "number"
    if kind == "string":
        fmt = node.get("format")
        if fmt == "date":
            return "date"
        if fmt == "date-time":
            return "datetime"
        return "textarea" if int(node.get("maxLength", 0)) > 200 else "text"
    return "json"


def _attributes(node: Mapping[str, Any], kind: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    if kind in {"number", "integer"}:
        attributes["step"] = "1" if kind == "integer" else "any"
        for keyword, attribute in (("minimum", "min"), ("maximum", "max")):
            if isinstance(node.get(keyword), int | float):
                attributes[attribute] = str(node[keyword])
    if kind in {"text", "textarea"}:
        for keyword, attribute in (("maxLength", "maxlength"), ("minLength", "minlength")):
            if isinstance(node.get(keyword), int):
                attributes[attribute] = str(node[keyword])
    return attributes


def _display(value: Any, kind: str) -> str:
    """How a JSON value shows in its input (posted strings are shown as they were typed)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if kind in {"boolean", "decision"} and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "select":
        return json.dumps(value)
    if kind == "json":
        return json.dumps(value, indent=2)
    return str(value)


def form_fields(
    schema: Mapping[str, Any] | None,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[FormField]:
    """The inputs of a form for ``schema`` (None: one JSON object field), with ``values`` and ``errors``."""
    values = values or {}
    errors = errors or {}
    if schema is None:
        value = values.get(DATA_FIELD, "{}")
        return [
            FormField(
                DATA_FIELD,
                "Data (a JSON object)",
                "json",
                required=True,
                value=value if isinstance(value, str) else json.dumps(value, indent=2),
                error=errors.get(DATA_FIELD),
            )
        ]
    properties, required = _object_parts(schema)
    decisions = [
        name for name, node in properties.items() if name in required and _kind(_resolve(node, schema)) == "boolean"
    ]
    fields: list[FormField] = []
    for name, raw in properties.items():
        node, _ = _unwrap_optional(_resolve(raw, schema), schema)
        kind = _kind(node)
        if kind == "boolean" and decisions == [name]:
            kind = "decision"  # the form's one yes/no question: its answer is the submit button
        options: tuple[tuple[str, str], ...] = ()
        if kind == "select":
            options = tuple((_display(choice, kind), str(choice)) for choice in node["enum"])
        fields.append(
            FormField(
                name=name,
                label=str(node.get("title") or raw.get("title") or name.replace("_", " ").capitalize()),
                kind=kind,
                required=name in required,
                description=node.get("description") or raw.get("description"),
                options=options,
                attributes=_attributes(node, kind),
                value=_display(values.get(name), kind),
                error=_field_error(name, errors),
            )
        )
    return fields


def _field_error(name: str, errors: Mapping[str, str]) -> str | None:
    """The error of field ``name``, including errors deeper in its value (``name.0.key``)."""
    if name in errors:
        return errors[name]
    deeper = [f"{key}: {message}" for key, message in errors.items() if key.startswith(f"{name}.")]
    return "; ".join(deeper) or None


def _number(kind: str, text: str) -> int | float:
    """An integer or number input's value (``12`` stays an int where the schema takes any number)."""
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("must be a whole number") from None
    try:
        number = float(text)
    except ValueError:
        raise ValueError("must be a number") from None
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def _convert(kind: str, text: str, node: Mapping[str, Any]) -> Any:
    """The JSON value of one posted input; ``ValueError`` with a readable message when there is none."""
    if kind in {"boolean", "decision"}:
        if text not in {"true", "false"}:
            raise ValueError("choose yes or no")
        return text == "true"
    if kind in {"integer", "number"}:
        return _number(kind, text)
    if kind == "select":
        for choice in node["enum"]:
            if _display(choice, kind) == text:
                return choice
        raise ValueError("choose one of the options")
    if kind == "datetime":
        # <input type="datetime-local"> sends no zone: the page says the times are UTC
        return f"{text}:00Z" if len(text) == 16 else text
    if kind == "json":
        return _parse_json(text)
    return text


def _not_json(constant: str) -> Any:
    # Python's json module reads NaN and Infinity, which JSON has not: refused as the API refuses them
    # (no database stores them either; a value the page took would come back as null).
    raise ValueError(f"is not valid JSON ({constant} is no JSON number)")


def _parse_json(text: str) -> Any:
    """The JSON value typed into a text area; ``ValueError`` with a readable message when there is none."""
    try:
        return json.loads(text, parse_constant=_not_json)
    except RecursionError:  # nested deeper than the decoder can follow: a 400, never a server error
        raise ValueError("is nested too deeply") from None
    except ValueError as exc:
        raise ValueError(str(exc) if str(exc).startswith("is ") else "is not valid JSON") from None


def _read_object(text: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The one JSON object of a form without a schema."""
    try:
        value = _parse_json(text.strip() or "{}")
    except ValueError as exc:
        return {}, {DATA_FIELD: str(exc)}
    if not isinstance(value, dict):
        return {}, {DATA_FIELD: "must be a JSON object ({...})"}
    return value, {}


def read_form(schema: Mapping[str, Any] | None, posted: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON data of a posted form for ``schema`` and the fields that could not be converted.

    Only the schema's fields are read (the CSRF token and anything else posted are ignored); an
    empty input is left out, so the engine reports a required field as missing.
    """
    if schema is None:
        return _read_object(posted.get(DATA_FIELD, ""))
    properties, _ = _object_parts(schema)
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    fields = {item.name: item.kind for item in form_fields(schema)}
    for name, raw in properties.items():
        text = posted.get(name, "")
        if text == "":
            continue
        node, _ = _unwrap_optional(_resolve(raw, schema), schema)
        try:
            data[name] = _convert(fields[name], text, node)
        except ValueError as exc:
            errors[name] = str(exc)
    return data, errors
