"""Which context values can be stored, and how they are made JSON and back.

Context data must survive a restart unchanged, so only values that round-trip are accepted:
JSON natives, plus ``datetime``, ``date``, ``time``, ``UUID`` and ``Decimal``, which are stored
as tagged objects (``{"$lsw": "datetime", "v": "..."}``) and restored to the same type.
Everything else (msgspec Structs, dataclasses, sets, bytes, ...) is refused when it is set,
with an error that names the key and the type, instead of being silently turned into a string.

Two more limits keep every value storable on every backend, so a value is refused when it is
set, the same in memory as in SQL, and never fails a database write later:

- no string, and no dict key, may contain a NUL character (``"\x00"``): PostgreSQL refuses it
  in JSONB and TEXT (SQLite and memory would take it); nor a lone surrogate, which UTF-8 cannot
  encode (JSON request bodies cannot carry one; a step's code can make one);
- dicts and lists nest at most :data:`MAX_NESTING` levels, so nothing that walks a value
  recursively (copies, comparisons, JSON codecs, schema validation) can exhaust the stack;
- floats are finite: JSON has no NaN or infinity (they would come back from the database as null).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any
from uuid import UUID

from litestar_workflows.core.exceptions import WorkflowValidationError

__all__ = (
    "MAX_NAME_LENGTH",
    "MAX_NESTING",
    "NESTED_TYPES",
    "NUL",
    "PLAIN_TYPES",
    "copy_nested",
    "decode_value",
    "encode_value",
    "ensure_storable",
    "ensure_storable_text",
    "private_copy",
    "same_value",
    "storable_problem",
    "storable_text",
    "text_problem",
)

_TAG = "$lsw"
NUL = "\x00"
"""The character no string or key may contain. Hot paths test ``NUL in key`` for a plain value's
key and call ``ensure_storable`` (which decides and explains) only when it is there."""
_SCALARS = (str, int, float, bool, type(None))
PLAIN_TYPES = frozenset((int, bool, type(None)))
"""Types whose values are always storable: hot paths skip ``ensure_storable`` for them.

Not ``str``: a string may hold a NUL character, which no database column takes. Not ``float``:
NaN and the infinities are no JSON numbers."""
MAX_NESTING = 32
"""How deeply dicts and lists may nest in one context value (``{"a": [[1]]}``: the value of
``"a"`` nests 2 levels). Deeper values are refused when they are set, and deeper request
bodies get a 400."""
MAX_NAME_LENGTH = 200
"""Longest user id (a completing user, a claim, an assignee) the database's name columns hold."""
_TOO_DEEP = f"is nested too deeply (lists and objects nest at most {MAX_NESTING} levels in a value)"
_HAS_NUL = "contains a NUL character (\\u0000), which cannot be stored"
_NOT_FINITE = "is not a finite number (JSON has no NaN or infinity), which cannot be stored"
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
    """Raise ``WorkflowValidationError`` if ``value``, stored under ``key``, would not survive a restart unchanged.

    The key is checked too (a string that can be stored). The error names the offending place
    (``key.inner[1]``) in its message and in ``fields``.
    """
    if type(value) in PLAIN_TYPES and type(key) is str and NUL not in key and key.isascii():
        return  # the usual case, decided without walking anything
    found = _key_problem(key) or storable_problem(value, key)
    if found is None:
        return
    where, problem = found
    raise WorkflowValidationError(f"context value {key!r} cannot be stored", [f"{where} {problem}"], {where: problem})


def _key_problem(key: Any) -> tuple[str, str] | None:
    if type(key) is not str:
        return repr(key), "is not a string: context keys are strings"
    problem = text_problem(key)
    return None if problem is None else (key, f"(the key) {problem}")


def storable_problem(value: Any, path: str, levels: int = MAX_NESTING) -> tuple[str, str] | None:
    """Where and why ``value`` cannot be stored (``("data.note", "contains a NUL ...")``), or None.

    ``path`` names ``value`` itself; ``levels`` is how many levels of dicts and lists it may
    hold (the request bodies that wrap context values allow the wrapping levels on top). The
    walk never goes deeper than ``levels``, so it cannot exhaust the stack whatever it is given.
    """
    kind = type(value)
    if kind is str:
        return None if (problem := text_problem(value)) is None else (path, problem)
    if kind is float:
        return None if math.isfinite(value) else (path, _NOT_FINITE)
    if kind in _SCALARS or kind in _TAGGED:
        return None
    if kind is list or kind is tuple or kind is dict:
        if levels <= 0:
            return path, _TOO_DEEP
        return _problem_inside(value, path, levels - 1)
    return path, (
        f"is a {kind.__module__}.{kind.__qualname__}, which is not JSON and would not round-trip; "
        "convert it first (for example msgspec.to_builtins(value))"
    )


def _problem_inside(value: Any, path: str, levels: int) -> tuple[str, str] | None:
    if type(value) is not dict:
        for index, item in enumerate(value):
            found = storable_problem(item, f"{path}[{index}]", levels)
            if found is not None:
                return found
        return None
    prefix = f"{path}." if path else ""
    for item_key, item in value.items():
        if type(item_key) is not str:
            return path, f"has a non-string key {item_key!r}"
        problem = text_problem(item_key)
        if problem is not None:
            return path, f"has a key that cannot be stored: {item_key!r} {problem}"
        if item_key == _TAG:
            return path, f"uses the reserved key {_TAG!r}"
        found = storable_problem(item, prefix + item_key, levels)
        if found is not None:
            return found
    return None


def text_problem(text: str, max_length: int | None = None) -> str | None:
    """Why ``text`` cannot be stored (a NUL character, a lone surrogate; longer than ``max_length``), or None."""
    if NUL in text:
        return _HAS_NUL
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:  # a lone surrogate: Python holds it, UTF-8 (and so JSON) cannot
            return "contains a lone surrogate (not valid Unicode), which cannot be stored"
    if max_length is not None and len(text) > max_length:
        return f"is longer than {max_length} characters"
    return None


def ensure_storable_text(field: str, text: str, max_length: int | None = None) -> None:
    """Raise ``WorkflowValidationError`` naming ``field`` if ``text`` cannot be stored (see :func:`text_problem`).

    For strings the engine stores outside the context data: a cancel reason, a user id.
    """
    problem = text_problem(text, max_length)
    if problem is not None:
        raise WorkflowValidationError(f"{field} cannot be stored", [f"{field} {problem}"], {field: problem})


def storable_text(text: str) -> str:
    """``text`` with NUL characters written as ``\\x00``: for messages the engine records itself.

    An exception's message is recorded as the step's error; it is not the caller's input to
    refuse, so it is made storable instead.
    """
    return text.replace(NUL, "\\x00") if NUL in text else text


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
