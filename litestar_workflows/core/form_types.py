"""Forms and start inputs given as types: msgspec Structs, dataclasses or TypedDicts.

A typed form is checked by msgspec, with the rules a Litestar request body of that type gets
(strict: ``"12"`` is not an ``int``; constraints from ``msgspec.Meta`` apply). Keys the type does
not declare are refused rather than dropped: a client that misspells an optional field would
otherwise see a success while its value is lost. What is stored are the type's fields as the
values ``core.values`` accepts (nested Structs become dicts; datetimes, UUIDs and Decimals keep
their types), and step code reads them back as the type with :func:`read_form`
(``context.get_form(Type)``).
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import msgspec

from litestar_workflows.core.exceptions import WorkflowValidationError
from litestar_workflows.core.values import copy_nested

__all__ = ("accept_typed", "form_type_problems", "form_type_schema", "read_form")

T = TypeVar("T")

_KEPT_TYPES = (dt.datetime, dt.date, dt.time, UUID, Decimal)
"""Values stored as they are (``core.values`` tags them), not turned into strings."""
_OBJECT_KINDS = (msgspec.inspect.StructType, msgspec.inspect.DataclassType, msgspec.inspect.TypedDictType)
_REF_PREFIX = "#/$defs/"
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class _FormInfo:
    fields: tuple[msgspec.inspect.Field, ...]
    names: frozenset[str]
    """The keys as sent and stored (a Struct field's ``encode_name``)."""
    hints: dict[str, Any]
    """Annotations by attribute name, to check one field at a time (empty if they cannot be resolved)."""
    schema: dict[str, Any]


_DESCRIBED: dict[Any, _FormInfo] = {}
"""Each form type is described once (a completion or a start only looks it up)."""


def _info(form_type: type[Any]) -> _FormInfo:
    info = _DESCRIBED.get(form_type)
    if info is None:
        info = _DESCRIBED[form_type] = _describe(form_type)
    return info


def _describe(form_type: type[Any]) -> _FormInfo:
    try:
        info = msgspec.inspect.type_info(form_type)
        schema = _schema(form_type) if isinstance(info, _OBJECT_KINDS) else {}
    except (TypeError, NameError) as exc:  # an unsupported field type, an annotation that names nothing
        raise TypeError(f"{form_type!r} cannot be used as a form: {exc}") from None
    if not isinstance(info, _OBJECT_KINDS) or getattr(info, "array_like", False):
        msg = f"{form_type!r} cannot be used as a form: give a msgspec Struct, a dataclass or a TypedDict"
        raise TypeError(msg)
    try:
        hints = typing.get_type_hints(form_type, include_extras=True)
    except TypeError:  # a generic alias such as Box[int]: its failures are reported one at a time
        hints = {}
    return _FormInfo(info.fields, frozenset(field.encode_name for field in info.fields), hints, schema)


def _schema(form_type: type[Any]) -> dict[str, Any]:
    """The type's JSON Schema with its top-level object inlined (clients find ``properties`` at the top)."""
    (reference,), components = msgspec.json.schema_components((form_type,), ref_template=_REF_PREFIX + "{name}")
    name = reference["$ref"].removeprefix(_REF_PREFIX)
    schema: dict[str, Any] = {**components[name], "additionalProperties": False}
    # The top-level definition stays in $defs only when something refers to it (a recursive type).
    refers_back = msgspec.json.encode(reference["$ref"]) in msgspec.json.encode(components)
    definitions = components if refers_back else {key: value for key, value in components.items() if key != name}
    if definitions:
        schema["$defs"] = definitions
    return schema


def form_type_schema(form_type: type[Any]) -> dict[str, Any]:
    """The JSON Schema shown to clients for a form type (a copy: change it freely).

    Raises ``TypeError`` if ``form_type`` is not a Struct, a dataclass or a TypedDict.
    """
    schema: dict[str, Any] = copy_nested(_info(form_type).schema)
    return schema


def form_type_problems(what: str, form_type: Any) -> list[str]:
    """Why ``form_type`` cannot be used as a form (an empty list when it can)."""
    if not isinstance(form_type, type) and typing.get_origin(form_type) is None:
        return [f"{what}: {form_type!r} is not a type; give a msgspec Struct, a dataclass or a TypedDict"]
    try:
        _info(form_type)
    except TypeError as exc:
        return [f"{what}: {exc}"]
    return []


def _key_and_message(error: msgspec.ValidationError, prefix: str) -> tuple[str, str]:
    """Split msgspec's ``"Expected `int`, got `str` - at `$.items[0]`"`` into a key and a message."""
    message, _, path = str(error).partition(" - at `")
    suffix = _INDEX.sub(r".\1", path.rstrip("`").removeprefix("$"))
    key = (prefix + suffix).lstrip(".")
    return key or "(form)", message


def _field_problems(info: _FormInfo, data: Mapping[str, Any]) -> dict[str, str]:
    """Every field that fails on its own; missing required fields included."""
    problems: dict[str, str] = {}
    for field in info.fields:
        if field.encode_name not in data:
            if field.required:
                problems[field.encode_name] = "is required"
            continue
        hint = info.hints.get(field.name)
        if hint is None:
            continue
        try:
            msgspec.convert(data[field.encode_name], hint, strict=True)
        except msgspec.ValidationError as error:
            key, message = _key_and_message(error, field.encode_name)
            problems[key] = message
    return problems


def _name(form_type: Any) -> str:
    return str(getattr(form_type, "__name__", form_type))


def _all_problems(error: msgspec.ValidationError, info: _FormInfo, data: Mapping[str, Any]) -> dict[str, str]:
    """msgspec stops at the first problem; checking field by field reports them all."""
    return _field_problems(info, data) or dict([_key_and_message(error, "")])


def _converted(form_type: type[Any], data: Any, what: str) -> Any:
    info = _info(form_type)
    if not isinstance(data, dict):
        raise WorkflowValidationError(f"{what} must be a JSON object", [f"got {type(data).__name__}"])
    problems = {key: f"is not a field of {_name(form_type)}" for key in data if key not in info.names}
    if not problems:
        try:
            return msgspec.convert(data, form_type, strict=True)
        except msgspec.ValidationError as error:
            problems = _all_problems(error, info, data)
    else:
        problems.update(_field_problems(info, data))
    raise WorkflowValidationError(
        f"{what} does not match {_name(form_type)}",
        [f"{key}: {message}" for key, message in problems.items()],
        problems,
    )


def accept_typed(form_type: type[Any], data: Any, what: str) -> dict[str, Any]:
    """Check ``data`` (decoded JSON) against ``form_type``; return the type's fields as storable values.

    Raises ``WorkflowValidationError`` whose ``fields`` maps each failing key (``items.0.sku``
    for nested ones) to a message. ``what`` names the data in the error (``data for step 'x'``).
    """
    value = _converted(form_type, data, what)
    if isinstance(value, dict):  # a TypedDict: only the keys that were given
        items: Any = value.items()
    else:
        items = ((field.encode_name, getattr(value, field.name)) for field in _info(form_type).fields)
    return {key: msgspec.to_builtins(item, builtin_types=_KEPT_TYPES) for key, item in items}


def read_form(data: Mapping[str, Any], form_type: type[T]) -> T:
    """The fields of ``form_type`` read back from instance data, as an instance of the type.

    Keys the type does not declare are ignored; a missing field takes its default. Raises
    ``WorkflowValidationError`` when a required field is missing or a value no longer fits
    (the form was not submitted yet, or a step overwrote one of its keys).
    """
    info = _info(form_type)
    present = {name: data[name] for name in info.names if name in data}
    try:
        return msgspec.convert(present, form_type, strict=True)
    except msgspec.ValidationError as error:
        problems = _all_problems(error, info, present)
        raise WorkflowValidationError(
            f"the data holds no valid {_name(form_type)}",
            [f"{key}: {message}" for key, message in problems.items()],
            problems,
        ) from None
