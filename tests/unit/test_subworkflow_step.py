"""``SubWorkflowStep`` as written in a definition: checks at registration, input and output mapping, diagram."""

from __future__ import annotations

import pytest

from litestar_workflows import SubWorkflowStep, WorkflowRegistry, WorkflowValidationError
from litestar_workflows.core.context import WorkflowContext
from tests.helpers import SetStep, chain


def calling(name: str, child: str, version: str = "1", child_version: str | None = None):  # type: ignore[no-untyped-def]
    return chain(name, [SubWorkflowStep("call", child, child_version), SetStep("after")], version)


def test_a_parent_naming_an_unregistered_workflow_is_refused_with_the_fix() -> None:
    registry = WorkflowRegistry()
    with pytest.raises(WorkflowValidationError) as refused:
        registry.register_definition(calling("parent", "missing"))
    assert refused.value.errors == [
        "step 'call' calls workflow 'missing', which is not registered; register the child workflow before its parent"
    ]
    registry.register_definition(chain("missing", [SetStep("only")]))
    with pytest.raises(WorkflowValidationError, match="calls workflow 'missing' version '2', which is not registered"):
        registry.register_definition(calling("parent", "missing", child_version="2"))
    registry.register_definition(calling("parent", "missing"))  # now it is known


def test_cycles_of_calls_are_refused() -> None:
    registry = WorkflowRegistry()
    with pytest.raises(WorkflowValidationError, match="calls its own workflow 'a': a cycle of calls"):
        registry.register_definition(calling("a", "a"))
    registry.register_definition(chain("a", [SetStep("plain")]))
    registry.register_definition(calling("b", "a"))  # b calls a (version 1: no calls)
    registry.register_definition(calling("c", "b"))
    with pytest.raises(WorkflowValidationError) as refused:
        registry.register_definition(calling("a", "c", version="2"))  # a 2 -> c -> b -> a (latest: a 2)
    assert refused.value.errors == ["step 'call' makes a cycle of calls: a -> c -> b -> a"]
    assert registry.get_versions("a") == ["1"]


def _context(data: dict[str, object]) -> WorkflowContext:
    return WorkflowContext(None, None, data, {}, "call", [], None)  # type: ignore[arg-type]


def test_input_and_output_mappings() -> None:
    step = SubWorkflowStep("call", "child", input={"amount": "total"}, output={"price": "quote"})
    assert step.child_input(_context({"total": 3, "other": 1})) == {"amount": 3}
    with pytest.raises(WorkflowValidationError, match="passes 'total' to its child, which the instance lacks"):
        step.child_input(_context({}))
    assert step.child_output({"quote": 9, "internal": 1}) == {"price": 9}
    assert step.child_output({}) == {}  # a key the child did not set is not merged
    listed = SubWorkflowStep("call", "child", output=["a", "b"])
    assert listed.child_output({"a": 1, "b": 2, "c": 3}) == {"a": 1, "b": 2}
    assert listed.child_input(_context({"a": 1})) == {}  # no input: the child starts with no data


def test_an_input_function_must_return_a_mapping() -> None:
    step = SubWorkflowStep("call", "child", input=lambda context: [context.get("x")])  # type: ignore[arg-type]
    with pytest.raises(WorkflowValidationError, match="the input of step 'call' returned list, not a mapping"):
        step.child_input(_context({"x": 1}))
    assert SubWorkflowStep("call", "child", input=lambda c: {"y": c.get("x")}).child_input(_context({"x": 2})) == {
        "y": 2
    }
    with pytest.raises(ValueError, match="name the child workflow"):
        SubWorkflowStep("call", "")


def test_the_diagram_draws_the_call_as_a_subroutine_naming_the_child() -> None:
    registry = WorkflowRegistry()
    registry.register_definition(chain("pricing", [SetStep("quote")]))
    parent = chain("order", [SubWorkflowStep("price it", "pricing"), SetStep("ship")])
    registry.register_definition(parent)
    assert parent.to_mermaid().splitlines()[1:3] == ['    price_it[["price it: pricing"]]', '    ship(["ship"])']
