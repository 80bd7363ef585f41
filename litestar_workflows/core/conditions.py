"""Edge conditions written as text, evaluated without ``eval``.

The language is a small, safe subset of Python expressions over the context data:

* names and dotted paths read context keys: ``amount``, ``customer.tier`` (a missing key is ``None``);
* literals: numbers, quoted strings, ``true``/``false``/``null`` (``True``/``False``/``None`` too),
  and lists or tuples of literals;
* comparisons ``== != < <= > >= in not in``, chained if you like (``0 < amount <= 500``);
* ``and``, ``or``, ``not`` and parentheses.

Anything else (calls, subscripts, arithmetic, lambdas, ...) is refused when the definition is
registered. A comparison that cannot be made at run time (``amount > 5`` with ``amount`` missing)
is *unknown*, as NULL is in SQL: ``not unknown`` is unknown, ``unknown or true`` is true,
``unknown and false`` is false, and a condition that ends unknown does not hold. It is never an
error and never silently true. ``==``/``!=`` compare with null as Python does (``amount == null``
tests for a missing key; ``amount != 5`` holds when it is missing).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from litestar_workflows.core.exceptions import WorkflowValidationError

__all__ = ("CompiledCondition", "compile_condition")

_LITERAL_NAMES: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "True": True,
    "False": False,
    "None": None,
}
_COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda left, right: left in right,
    ast.NotIn: lambda left, right: left not in right,
}
_Evaluator = Callable[[Mapping[str, Any]], Any]
_UNKNOWN: Any = object()
"""The value of a comparison that cannot be made; like SQL's NULL it makes ``not`` unknown too."""


class CompiledCondition:
    """A parsed condition; call it with the context data."""

    __slots__ = ("_evaluate", "source")

    def __init__(self, source: str, evaluate: _Evaluator) -> None:
        self.source = source
        self._evaluate = evaluate

    def __call__(self, data: Mapping[str, Any]) -> bool:
        outcome = self._evaluate(data)
        return outcome is not _UNKNOWN and bool(outcome)

    def __repr__(self) -> str:
        return f"CompiledCondition({self.source!r})"


def compile_condition(source: str) -> CompiledCondition:
    """Parse ``source``; raise ``WorkflowValidationError`` if it is not in the language."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise WorkflowValidationError(f"condition {source!r} is not valid", [str(exc.msg)]) from exc
    return CompiledCondition(source, _compile(tree.body, source))


def _compile(node: ast.expr, source: str) -> _Evaluator:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool | type(None)):
        value = node.value
        return lambda _data: value
    if isinstance(node, ast.Name):
        if node.id in _LITERAL_NAMES:
            literal = _LITERAL_NAMES[node.id]
            return lambda _data: literal
        key = node.id
        return lambda data: data.get(key)
    if isinstance(node, ast.Attribute):
        return _compile_path(node, source)
    if isinstance(node, ast.List | ast.Tuple):
        items = [_compile(item, source) for item in node.elts]
        return lambda data: [item(data) for item in items]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        operand = _compile(node.operand, source)

        def negate(data: Mapping[str, Any]) -> Any:
            value = operand(data)
            return _UNKNOWN if value is _UNKNOWN else not value

        return negate
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        negated = _compile(node.operand, source)
        return lambda data: -negated(data)
    if isinstance(node, ast.BoolOp):
        parts = [_compile(value, source) for value in node.values]
        decisive = not isinstance(node.op, ast.And)  # the value that settles the operator: False for and

        def combine(data: Mapping[str, Any]) -> Any:
            unknown = False
            for part in parts:
                value = part(data)
                if value is _UNKNOWN:
                    unknown = True
                elif bool(value) is decisive:
                    return decisive
            return _UNKNOWN if unknown else not decisive

        return combine
    if isinstance(node, ast.Compare):
        return _compile_compare(node, source)
    raise WorkflowValidationError(
        f"condition {source!r} is not supported",
        [f"{type(node).__name__} is not allowed; use names, literals, comparisons, and/or/not"],
    )


def _compile_path(node: ast.Attribute, source: str) -> _Evaluator:
    names: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        names.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name):
        raise WorkflowValidationError(f"condition {source!r} is not supported", ["dotted paths start at a name"])
    names.append(current.id)
    path = tuple(reversed(names))

    def read(data: Mapping[str, Any]) -> Any:
        value: Any = data
        for name in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(name)
        return value

    return read


def _compile_compare(node: ast.Compare, source: str) -> _Evaluator:
    left = _compile(node.left, source)
    ops: list[Callable[[Any, Any], bool]] = []
    for op in node.ops:
        comparison = _COMPARISONS.get(type(op))
        if comparison is None:
            raise WorkflowValidationError(
                f"condition {source!r} is not supported", [f"operator {type(op).__name__} is not allowed"]
            )
        ops.append(comparison)
    rights = [_compile(comparator, source) for comparator in node.comparators]

    def compare(data: Mapping[str, Any]) -> Any:
        current = left(data)
        for op, right in zip(ops, rights, strict=True):
            following = right(data)
            if current is _UNKNOWN or following is _UNKNOWN:
                return _UNKNOWN
            try:
                holds = op(current, following)
            except TypeError:
                return _UNKNOWN  # ``None > 5`` (a missing key): neither true nor false, as NULL in SQL
            if not holds:
                return False
            current = following
        return True

    return compare
