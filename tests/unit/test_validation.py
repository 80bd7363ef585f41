"""Registration refuses broken definitions and lists every problem at once."""

from __future__ import annotations

import pytest

from litestar_workflows import (
    BaseHumanStep,
    Edge,
    ParallelGateway,
    WorkflowDefinition,
    WorkflowRegistry,
    WorkflowValidationError,
)
from litestar_workflows.core.definition import step_name_of
from tests.helpers import SetStep, flow


def problems_of(definition: WorkflowDefinition) -> list[str]:
    with pytest.raises(WorkflowValidationError) as raised:
        WorkflowRegistry().register_definition(definition)
    return raised.value.errors


def test_unknown_steps_in_edges_and_missing_initial_reported_together() -> None:
    definition = flow(
        "broken",
        [SetStep("a"), SetStep("b")],
        [("a", "b"), ("a", "ghost"), ("phantom", "b")],
        "start_here",
        [],
    )
    errors = problems_of(definition)
    assert any("'start_here'" in e and "initial" in e for e in errors)
    assert any("no terminal step" in e for e in errors)
    assert any("'ghost'" in e for e in errors)
    assert any("'phantom'" in e for e in errors)
    assert len(errors) == 4


def test_unreachable_and_dead_end_steps_reported_together() -> None:
    definition = flow(
        "unreachable",
        [SetStep("a"), SetStep("b"), SetStep("island"), SetStep("stuck"), SetStep("loop1"), SetStep("loop2")],
        [("a", "b"), ("a", "stuck"), ("a", "loop1"), ("loop1", "loop2"), ("loop2", "loop1")],
        "a",
        ["b"],
    )
    errors = problems_of(definition)
    assert "step 'island' is unreachable from 'a'" in errors
    assert "step 'stuck' is not terminal and has no outgoing edge" in errors
    assert "step 'loop1' can never reach a terminal step" in errors
    assert "step 'loop2' can never reach a terminal step" in errors
    assert len(errors) == 5  # island is also a dead end
    assert "step 'island' is not terminal and has no outgoing edge" in errors


def test_other_structural_problems() -> None:
    errors = problems_of(
        WorkflowDefinition(
            name="",
            version="1",
            description="",
            steps={"a": SetStep("a"), "b": SetStep("renamed"), "g": ParallelGateway("g", ["a", "nowhere"])},
            edges=[Edge("a", "b")],
            initial_step="a",
            terminal_steps={"b", "missing_end"},
        )
    )
    assert "the workflow has no name" in errors
    # A step registered under another key is bound to a copy named after the key (not a problem).
    assert not any("registered as" in error for error in errors)
    assert "terminal step 'missing_end' does not exist" in errors
    assert "parallel gateway 'g' has unknown branch 'nowhere'" in errors

    errors = problems_of(flow("term_out", [SetStep("a"), SetStep("b")], [("a", "b")], "a", ["a", "b"]))
    assert errors == ["terminal step 'a' has outgoing edges"]


def test_invalid_form_schema_is_refused() -> None:
    bad = BaseHumanStep("approve", form_schema={"type": "object", "properties": {"ok": {"type": "not-a-type"}}})
    errors = problems_of(flow("bad_form", [bad, SetStep("end")], [("approve", "end")], "approve", ["end"]))
    assert len(errors) == 1
    assert "form schema of step 'approve' is invalid" in errors[0]


def test_error_message_lists_everything() -> None:
    with pytest.raises(WorkflowValidationError) as raised:
        WorkflowRegistry().register_definition(flow("msg", [SetStep("a")], [("a", "x")], "a", []))
    assert "'x'" in str(raised.value) and "terminal" in str(raised.value)


def test_valid_definition_registers() -> None:
    registry = WorkflowRegistry()
    definition = flow("ok", [SetStep("a"), SetStep("b")], [("a", "b")], "a", ["b"])
    assert definition.validate() == []
    registry.register_definition(definition)
    assert registry.get_definition("ok") is definition


def test_edges_accept_steps_and_names() -> None:
    a, b = SetStep("a"), SetStep("b")
    edge = Edge(a, b)
    assert (edge.get_source_name(), edge.get_target_name()) == ("a", "b")
    assert step_name_of("x") == "x"

    class Named:
        name = "from_class"

    assert Edge(Named, "b").source == "from_class"
    with pytest.raises(TypeError, match="cannot tell the step name"):
        Edge(object(), "b")
