"""Registration refuses names and texts of a definition that a database could not store.

Before, such a definition registered: a title over 500 characters failed each instance on
PostgreSQL when it reached the task (blaming the step before), candidate groups over the groups
column made the start a 500, and a group name holding a comma let callers in other groups list
the task. The same values at the limit are stored on SQLite and PostgreSQL
(``tests/web/test_definition_limits_http.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from litestar_workflows import (
    BaseHumanStep,
    Edge,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowRegistry,
    WorkflowValidationError,
)
from litestar_workflows.core.definition_limits import groups_problem
from tests.helpers import SetStep, chain, flow


def _refusal(definition: WorkflowDefinition) -> list[str]:
    with pytest.raises(WorkflowValidationError) as raised:
        WorkflowRegistry().register_definition(definition)
    return raised.value.errors


def _review(**options: Any) -> WorkflowDefinition:
    return chain("review", [SetStep("submit"), BaseHumanStep("approve", **options), SetStep("done")])


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"title": "T" * 501}, "the title of step 'approve' '" + "T" * 40 + "...' is longer than 500 characters"),
        (
            {"title": "a\x00b"},
            "the title of step 'approve' 'a\\x00b' contains a NUL character (\\u0000), which cannot be stored",
        ),
        (
            {"candidate_groups": ["CN=finance,OU=groups"]},
            "step 'approve': candidate group 'CN=finance,OU=groups' contains a comma, which separates groups "
            "where they are stored",
        ),
        ({"candidate_groups": [""]}, "step 'approve': candidate group '' is not a group name (a non-empty string)"),
        (
            {"candidate_groups": ["fin\x00ance"]},
            "step 'approve': candidate group 'fin\\x00ance' contains a NUL character (\\u0000), which cannot be stored",
        ),
        (
            {"candidate_groups": [f"group{number:03}" + "x" * 90 for number in range(21)]},
            "step 'approve': its candidate groups take 2080 characters stored (at most 2000)",
        ),
    ],
)
def test_task_fields_a_database_cannot_hold_are_refused(options: dict[str, Any], problem: str) -> None:
    assert _refusal(_review(**options)) == [problem]


def test_names_longer_than_their_columns_are_refused() -> None:
    long_step = SetStep("s" * 201)
    definition = flow("w" * 201, [long_step], [], long_step.name, [long_step.name], version="v" * 51)
    assert _refusal(definition) == [
        "the workflow name '" + "w" * 40 + "...' is longer than 200 characters",
        "the version '" + "v" * 40 + "...' is longer than 50 characters",
        "a step name '" + "s" * 40 + "...' is longer than 200 characters",
    ]


def test_texts_stored_with_the_graph_may_hold_no_nul() -> None:
    first, second = SetStep("first"), SetStep("second")
    first.description = "does\x00things"

    def condition(context: WorkflowContext) -> bool:
        return True

    condition.__name__ = "odd\x00name"  # a callable's name is its label in the stored graph
    definition = WorkflowDefinition(
        name="nul",
        version="1",
        description="a\x00b",
        steps={"first": first, "second": second},
        edges=[Edge("first", "second", condition)],
        initial_step="first",
        terminal_steps={"second"},
    )
    nul = "contains a NUL character (\\u0000), which cannot be stored"
    assert _refusal(definition) == [
        f"the description 'a\\x00b' {nul}",
        f"the description of step 'first' 'does\\x00things' {nul}",
        f"the condition of edge 'first' -> 'second' 'odd\\x00name' {nul}",
    ]


def test_names_at_their_limits_register() -> None:
    groups = [f"group{number:03}" + "x" * 90 for number in range(20)]  # 20 x 99 characters: 1,981 stored
    assert groups_problem(groups) is None
    step = BaseHumanStep("h" * 200, title="T" * 500, candidate_groups=groups)
    definition = flow("w" * 200, [step], [], step.name, [step.name], version="v" * 50)
    WorkflowRegistry().register_definition(definition)


def test_a_title_that_is_no_string_is_refused() -> None:
    definition = _review()
    definition.steps["approve"].title = 42  # type: ignore[attr-defined]  # a step class may set anything
    assert _refusal(definition) == ["the title of step 'approve' is not a string: 42"]
