"""Validation of the data a person submits for a human task."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from litestar_workflows.core.exceptions import WorkflowValidationError
from litestar_workflows.core.protocols import Step
from litestar_workflows.core.values import ensure_storable

__all__ = ("accepted_form_data", "check_form_schema")


def check_form_schema(step_name: str, schema: dict[str, Any]) -> list[str]:
    """Problems with a step's form schema itself (reported when the definition is registered)."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [f"form schema of step {step_name!r} is invalid: {exc.message}"]
    return []


def accepted_form_data(step: Step, data: dict[str, Any]) -> dict[str, Any]:
    """Validate ``data`` against the step's form schema and keep only the fields it declares.

    Raises ``WorkflowValidationError`` listing every failing field; nothing is changed then.
    """
    if not isinstance(data, dict):
        raise WorkflowValidationError("task data must be a JSON object", [f"got {type(data).__name__}"])
    schema: dict[str, Any] | None = getattr(step, "form_schema", None)
    if schema is None:
        accepted = dict(data)
    else:
        validator = Draft202012Validator(schema)
        failures = sorted(validator.iter_errors(data), key=lambda error: list(error.absolute_path))
        if failures:
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
        declared = schema.get("properties", {})
        accepted = {key: value for key, value in data.items() if key in declared}
    for key, value in accepted.items():
        ensure_storable(key, value)
    return accepted
