"""Edge conditions: callables and the safe string expression language."""

from __future__ import annotations

from typing import Any

import pytest

from litestar_workflows import (
    Edge,
    LocalExecutionEngine,
    WorkflowContext,
    WorkflowStatus,
    WorkflowValidationError,
)
from litestar_workflows.core.conditions import compile_condition
from tests.helpers import SetStep, flow


def holds(source: str, data: dict[str, Any]) -> bool:
    return compile_condition(source)(data)


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        ("amount > 100", {"amount": 150}, True),
        ("amount > 100", {"amount": 50}, False),
        ("0 < amount <= 500", {"amount": 500}, True),
        ("0 < amount <= 500", {"amount": 501}, False),
        ("0 < amount <= 500", {"amount": 0}, False),
        ("status == 'approved'", {"status": "approved"}, True),
        ('status != "approved"', {"status": "approved"}, False),
        ("tier in ['gold', 'silver']", {"tier": "gold"}, True),
        ("tier not in ('gold', 'silver')", {"tier": "gold"}, False),
        ("approved == true", {"approved": True}, True),
        ("approved == True and not rejected", {"approved": True, "rejected": False}, True),
        ("approved or rejected", {"approved": False, "rejected": False}, False),
        ("note == null", {}, True),
        ("customer.tier == 'gold'", {"customer": {"tier": "gold"}}, True),
        ("customer.tier == 'gold'", {"customer": "gold"}, False),
        ("balance >= -5", {"balance": -5}, True),
        ("(a or b) and c", {"a": False, "b": True, "c": True}, True),
        ("flag", {"flag": 1}, True),
        ("flag", {}, False),
    ],
)
def test_expression_language(source: str, data: dict[str, Any], expected: bool) -> None:
    assert holds(source, data) is expected


@pytest.mark.parametrize(
    ("source", "data"),
    [
        ("amount > 5", {}),
        ("amount > 5", {"amount": None}),
        ("amount < 5", {"amount": None}),
        ("amount >= 5", {"amount": "ten"}),
        ("customer.tier > 3", {}),
        ("'x' in amount", {"amount": 5}),
        # A comparison that cannot be made makes the whole condition false, even under "not".
        ("not (amount > 5)", {}),
        ("not (amount > 5)", {"amount": None}),
    ],
)
def test_missing_keys_and_none_comparisons_are_false(source: str, data: dict[str, Any]) -> None:
    assert holds(source, data) is False


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('echo hi')",
        "open('/etc/passwd')",
        "amount + 1 > 2",
        "items[0] == 1",
        "(lambda: True)()",
        "amount if amount else 0",
        "amount > ",
        "x is None",
        "[i for i in items]",
        "f'{amount}' == '1'",
        "b'x' == 1",
        "-amount > 1",
        "(a.b)().c == 1",
        "",
    ],
)
def test_unsafe_or_invalid_strings_are_refused(source: str) -> None:
    with pytest.raises(WorkflowValidationError):
        compile_condition(source)


def test_dotted_paths_read_keys_never_attributes() -> None:
    assert holds("amount.__class__ == 1", {"amount": 5}) is False
    assert holds("amount.__class__ == 1", {"amount": {"__class__": 1}}) is True


def test_refused_at_edge_creation_so_registration_never_sees_it() -> None:
    with pytest.raises(WorkflowValidationError, match="not supported"):
        Edge("a", "b", "__import__('os')")
    with pytest.raises(WorkflowValidationError, match="not valid"):
        Edge("a", "b", "amount >")


def test_compiled_condition_repr_and_label() -> None:
    assert repr(compile_condition("a == 1")) == "CompiledCondition('a == 1')"
    assert Edge("a", "b", "a == 1").label == "a == 1"
    assert Edge("a", "b").label is None

    def is_big(context: WorkflowContext) -> bool:
        return True

    assert Edge("a", "b", is_big).label == "is_big"
    assert Edge("a", "b", lambda c: True).label == "condition"


@pytest.mark.parametrize(("amount", "expected"), [(5000, "manager"), (50, "auto")])
async def test_string_conditions_route_an_instance(engine: LocalExecutionEngine, amount: int, expected: str) -> None:
    definition = flow(
        f"route_{amount}",
        [SetStep("start"), SetStep("manager", "route", "manager"), SetStep("auto", "route", "auto")],
        [Edge("start", "manager", "amount > 1000"), Edge("start", "auto", "amount <= 1000")],
        "start",
        ["manager", "auto"],
    )
    started = await engine.start_workflow(definition, {"amount": amount})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.data["route"] == expected
    assert [e.step_name for e in done.context.step_history] == ["start", expected]


async def test_callable_condition_sees_data_written_by_the_step(engine: LocalExecutionEngine) -> None:
    definition = flow(
        "callable_route",
        [SetStep("start", "score", 9), SetStep("high", "r", "high"), SetStep("low", "r", "low")],
        [
            Edge("start", "high", lambda c: c.get("score", 0) > 5),
            Edge("start", "low", lambda c: c.get("score", 0) <= 5),
        ],
        "start",
        ["high", "low"],
    )
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.data["r"] == "high"


async def test_no_matching_edge_fails_instead_of_guessing(engine: LocalExecutionEngine) -> None:
    definition = flow(
        "dead_end",
        [SetStep("start"), SetStep("big"), SetStep("small")],
        [Edge("start", "big", "amount > 100"), Edge("start", "small", "amount < 10")],
        "start",
        ["big", "small"],
    )
    started = await engine.start_workflow(definition, {})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None and "'start'" in done.error
    assert [e.step_name for e in done.context.step_history] == ["start"]


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ("amount > 5 or urgent", {"urgent": True}, True),
        ("amount > 5 or urgent", {"urgent": False}, False),
        ("amount > 5 and false", {}, False),
        ("not (amount > 5 and false)", {}, True),
        ("not (amount > 5)", {}, False),
        ("amount == null", {}, True),
    ],
)
def test_an_unknown_comparison_behaves_like_sql_null(expression: str, data: dict[str, Any], expected: bool) -> None:
    assert compile_condition(expression)(data) is expected
