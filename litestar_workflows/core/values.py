"""Which context values can be stored, and how they are made JSON and back.

Context data must survive a restart unchanged, so only values that round-trip are accepted:
JSON natives, plus ``datetime``, ``date``, ``time``, ``UUID`` and ``Decimal``, which are stored
as tagged objects (``{"$lsw": "datetime", "v": "..."}``) and restored to the same type.
Everything else (msgspec Structs, dataclasses, sets, bytes, ...) is refused when it is set,
with an error that names the key and the type, instead of being silently turned into a string.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from uuid import UUID

from litestar_workflows.core.exceptions import WorkflowValidationError

__all__ = (
    "NESTED_TYPES",
    "PLAIN_TYPES",
    "copy_nested",
    "decode_value",
    "encode_value",
    "ensure_storable",
    "private_copy",
    "same_value",
)

_TAG = "$lsw"
_SCALARS = (str, int, float, bool, type(None))
PLAIN_TYPES = frozenset(_SCALARS)
"""Types whose values are always storable: hot paths skip ``ensure_storable`` for them."""
NESTED_TYPES = frozenset((dict, list, tuple))
"""The storable types that hold other values: the only ones that can be changed in place (or hold
something that can)."""
_TAGGED: dict[type, str] = {
    dt.datetime: "datetime",
    dt.date: "date",
    dt.time: "time",
    UUID: "uuid",
    Decimal: "decimal",
}
_DECODERS: dict[str, Any] = {
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "uuid": UUID,
    "decimal": Decimal,
}


def copy_nested(value: Any) -> Any:
    """``value`` with every dict and list in it copied, at any depth (other storable values are immutable)."""
    kind = type(value)
    if kind is dict:
        return {key: copy_nested(item) if type(item) in NESTED_TYPES else item for key, item in value.items()}
    if kind is list:
        return [copy_nested(item) if type(item) in NESTED_TYPES else item for item in value]
    if kind is tuple:
        return tuple(copy_nested(item) if type(item) in NESTED_TYPES else item for item in value)
    return value


def same_value(first: Any, second: Any) -> bool:
    """True if two storable values are equal and of the same types throughout.

    Stricter than ``==``, which holds for ``[1]`` and ``[True]`` or ``[1.0]``: those are stored
    differently, so a step that made one into the other changed its data.
    """
    if first is second:
        return True
    kind = type(first)
    if kind is not type(second) or first != second:
        return False
    if kind is dict:
        return all(same_value(item, second[key]) for key, item in first.items())
    if kind is list or kind is tuple:
        return all(same_value(item, other) for item, other in zip(first, second, strict=True))
    return True


def private_copy(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` that shares no dict or list with it, at any depth.

    What a step, or a caller holding a returned instance, changes in place (``items.append(x)``)
    then changes its own copy only: never committed state, and never what a failed attempt's
    retry starts from. Costs one pass over the keys when no value is a container.
    """
    for value in data.values():
        if type(value) in NESTED_TYPES:
            copied: dict[str, Any] = copy_nested(data)
            return copied
    return dict(data)


def ensure_storable(key: str, value: Any) -> None:
    """Raise ``WorkflowValidationError`` if ``value`` would not survive a restart unchanged."""
    problem = _find_problem(value, key)
    if problem is not None:
        raise WorkflowValidationError(
            f"context value {key!r} cannot be stored",
            [problem + "; convert it first (for example msgspec.to_builtins(value))"],
        )


def _find_problem(value: Any, path: str) -> str | None:
    kind = type(value)
    if kind in _SCALARS or kind in _TAGGED:
        return None
    if kind is list or kind is tuple:
        for index, item in enumerate(value):
            problem = _find_problem(item, f"{path}[{index}]")
            if problem is not None:
                return problem
        return None
    if kind is dict:
        for item_key, item in value.items():
            if type(item_key) is not str:
                return f"{path} has a non-string key {item_key!r}"
            if item_key == _TAG:
                return f"{path} uses the reserved key {_TAG!r}"
            problem = _find_problem(item, f"{path}.{item_key}")
            if problem is not None:
                return problem
        return None
    return f"{path} is a {kind.__module__}.{kind.__qualname__}, which is not JSON and would not round-trip"


def encode_value(value: Any) -> Any:
    """Turn a storable value into plain JSON data (tagging the non-JSON scalars)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {key: encode_value(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [encode_value(item) for item in value]
    tag = _TAGGED.get(kind)
    if tag is None:
        raise WorkflowValidationError("value cannot be stored", [f"unsupported type {kind.__qualname__}"])
    text = value.isoformat() if tag in {"datetime", "date", "time"} else str(value)
    return {_TAG: tag, "v": text}


def decode_value(value: Any) -> Any:
    """Inverse of :func:`encode_value`."""
    kind = type(value)
    if kind is dict:
        tag = value.get(_TAG)
        if tag is not None and len(value) == 2 and tag in _DECODERS:
            return _DECODERS[tag](value["v"])
        return {key: decode_value(item) for key, item in value.items()}
    if kind is list:
        return [decode_value(item) for item in value]
    return value
