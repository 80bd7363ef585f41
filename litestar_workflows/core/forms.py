"""Validation of the data a person submits for a human task.

What a completion may change is decided by the step's form, and only by it:

- a typed form (``form=Decision``) merges the type's fields (see ``core.form_types``);
- a JSON Schema form merges the top-level ``properties`` it declares, after resolving a
  top-level ``$ref`` into ``$defs``/``definitions`` and ``allOf``; a schema whose merged keys
  cannot be determined that way is refused when the definition is registered;
- a step without a form takes no data at all, unless it opts in with ``accept_any_data``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from litestar_workflows.core.exceptions import WorkflowValidationError
from litestar_workflows.core.form_types import accept_typed
from litestar_workflows.core.protocols import Step
from litestar_workflows.core.values import ensure_storable

__all__ = ("accepted_form_data", "check_form_schema", "form_fields_of")

_DEFINITION_SECTIONS = ("$defs", "definitions")


def _referenced(reference: Any, root: Mapping[str, Any]) -> Any:
    """The schema a local ``$ref`` (``#/$defs/Name`` or ``#/definitions/Name``) points at."""
    for section in _DEFINITION_SECTIONS:
        prefix = f"#/{section}/"
        if isinstance(reference, str) and reference.startswith(prefix):
            name = reference.removeprefix(prefix).replace("~1", "/").replace("~0", "~")
            definitions = root.get(section)
            if isinstance(definitions, Mapping) and name in definitions:
                return definitions[name]
    msg = f"its $ref {reference!r} does not name an entry of the schema's own $defs or definitions"
    raise ValueError(msg)


def _declared(node: Any, root: Mapping[str, Any], followed: frozenset[str]) -> set[str]:
    """Top-level property names of ``node``; ``ValueError`` says why they cannot be determined."""
    if not isinstance(node, Mapping):
        raise ValueError("it is not an object schema")  # true / false
    for keyword in ("oneOf", "anyOf"):
        if keyword in node:
            msg = f"it has {keyword} at the top, so the fields it merges would depend on the alternative that matched"
            raise ValueError(msg)
    if "patternProperties" in node:
        raise ValueError("it has patternProperties: keys matching them would be validated but never merged")
    if isinstance(node.get("additionalProperties"), Mapping):
        raise ValueError("it has an additionalProperties schema: such keys would be validated but never merged")
    kind = node.get("type", "object")
    if kind not in ("object", ["object"]):
        raise ValueError(f"its type is {kind!r}; the data of a form is an object")
    names = set(node.get("properties") or ())
    if "$ref" in node:
        reference = node["$ref"]
        if reference in followed:
            raise ValueError(f"its $ref {reference!r} refers back to itself")
        names |= _declared(_referenced(reference, root), root, followed | {reference})
    for part in node.get("allOf") or ():
        names |= _declared(part, root, followed)
    return names


def form_fields_of(schema: Mapping[str, Any]) -> frozenset[str]:
    """The keys a form with this JSON Schema merges into the context.

    Those are the top-level ``properties``, including those reached through a top-level
    ``$ref`` into the schema's ``$defs``/``definitions`` (what ``msgspec.json.schema`` produces)
    and through ``allOf``. Raises ``ValueError`` explaining why they cannot be determined: no
    properties at all, ``oneOf``/``anyOf`` at the top, ``patternProperties`` or an
    ``additionalProperties`` schema, a non-object type, a ``$ref`` outside the schema.
    """
    names = _declared(schema, schema, frozenset())
    if not names:
        raise ValueError("it declares no properties (after resolving $ref and allOf)")
    return frozenset(names)


def check_form_schema(step_name: str, schema: dict[str, Any]) -> list[str]:
    """Problems with a step's form schema itself (reported when the definition is registered)."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [f"form schema of step {step_name!r} is invalid: {exc.message}"]
    try:
        form_fields_of(schema)
    except ValueError as exc:
        return [
            f"form schema of step {step_name!r} does not tell which fields it merges: {exc} "
            "(list the fields under properties; a step that takes any data has no form and accept_any_data=True)"
        ]
    return []


def _schema_failures(step: Step, schema: dict[str, Any], data: dict[str, Any]) -> None:
    """Raise ``WorkflowValidationError`` naming every field of ``data`` the schema refuses."""
    validator = Draft202012Validator(schema)
    failures = sorted(validator.iter_errors(data), key=lambda error: list(error.absolute_path))
    if not failures:
        return
    fields: dict[str, str] = {}
    for error in failures:
        if error.validator == "required" and isinstance(error.instance, dict):
            prefix = "".join(f"{part}." for part in error.absolute_path)
            for name in error.validator_value:
                if name not in error.instance:
                    fields.setdefault(f"{prefix}{name}", "is required")
        else:
            path = ".".join(str(part) for part in error.absolute_path) or "(form)"
            fields.setdefault(path, error.message)
    raise WorkflowValidationError(
        f"data for step {step.name!r} does not match its form",
        [f"{name}: {message}" for name, message in fields.items()],
        fields,
    )


def _without_form(step: Step, data: dict[str, Any]) -> dict[str, Any]:
    if getattr(step, "accept_any_data", False):
        return dict(data)
    if data:
        keys = sorted(data, key=str)
        raise WorkflowValidationError(
            f"step {step.name!r} has no form; it accepts no data",
            ["got " + ", ".join(repr(key) for key in keys)],
            {str(key): "is not accepted: the step has no form" for key in keys},
        )
    return {}


def accepted_form_data(step: Step, data: dict[str, Any]) -> dict[str, Any]:
    """Validate ``data`` against the step's form and return what is merged into the context.

    Raises ``WorkflowValidationError`` listing every failing field; nothing is changed then.
    """
    if not isinstance(data, dict):
        raise WorkflowValidationError("task data must be a JSON object", [f"got {type(data).__name__}"])
    form_type = getattr(step, "form", None)
    schema: dict[str, Any] | None = getattr(step, "form_schema", None)
    if form_type is not None:
        accepted = accept_typed(form_type, data, f"data for step {step.name!r}")
    elif schema is None:
        accepted = _without_form(step, data)
    else:
        _schema_failures(step, schema, data)
        declared = form_fields_of(schema)
        accepted = {key: value for key, value in data.items() if key in declared}
    for key, value in accepted.items():
        ensure_storable(key, value)
    return accepted
