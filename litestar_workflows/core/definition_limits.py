"""What a definition's names and texts must be for every database to store them.

A definition is stored when the app starts (its name, version, description and graph) and its
names are copied into every instance, step record and task it makes. A value the database
cannot hold (a NUL character, which PostgreSQL refuses; a name longer than its column, which
PostgreSQL refuses and SQLite takes) would otherwise fail on one backend only and late: at
start-up, or when an instance reaches the step (a 500 for a start, a failed instance blaming
the step before). So such definitions are refused when they are registered, naming the value.

Candidate groups are also stored joined with commas, so a task list filters them in SQL the
same way on every backend (``",managers,finance,"``): a group name holding a comma could not be
told apart from two groups, and is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from litestar_workflows.core.types import StepType
from litestar_workflows.core.values import MAX_NAME_LENGTH, text_problem

if TYPE_CHECKING:
    from litestar_workflows.core.definition import WorkflowDefinition

__all__ = (
    "MAX_GROUPS_LENGTH",
    "MAX_TITLE_LENGTH",
    "MAX_VERSION_LENGTH",
    "definition_limit_problems",
    "groups_problem",
)

MAX_VERSION_LENGTH = 50
"""Longest workflow version the database's version columns hold."""
MAX_TITLE_LENGTH = 500
"""Longest human task title the task table holds."""
MAX_GROUPS_LENGTH = 2000
"""Longest comma-joined list of a task's candidate groups (``",a,b,"``) the task table holds."""


def groups_problem(groups: tuple[str, ...] | list[str]) -> str | None:
    """Why a task's candidate groups cannot be stored and filtered, or None."""
    for group in groups:
        if not isinstance(group, str) or not group:
            return f"candidate group {group!r} is not a group name (a non-empty string)"
        if "," in group:
            return f"candidate group {group!r} contains a comma, which separates groups where they are stored"
        problem = text_problem(group)
        if problem is not None:
            return f"candidate group {group!r} {problem}"
    joined = sum(len(group) + 1 for group in groups) + 1 if groups else 0
    if joined > MAX_GROUPS_LENGTH:
        return f"its candidate groups take {joined} characters stored (at most {MAX_GROUPS_LENGTH})"
    return None


def _texts(definition: WorkflowDefinition) -> Iterator[tuple[str, object, int | None]]:
    """(what, value, longest allowed) of every text the database stores for ``definition``."""
    yield "the workflow name", definition.name, MAX_NAME_LENGTH
    yield "the version", definition.version, MAX_VERSION_LENGTH
    yield "the description", definition.description, None
    for name, step in definition.steps.items():
        yield "a step name", name, MAX_NAME_LENGTH
        yield f"the description of step {name!r}", getattr(step, "description", ""), None
        if step.step_type is StepType.HUMAN:
            yield f"the title of step {name!r}", getattr(step, "title", ""), MAX_TITLE_LENGTH
    for edge in definition.edges:
        yield f"the condition of edge {edge.source!r} -> {edge.target!r}", edge.label, None


def definition_limit_problems(definition: WorkflowDefinition) -> list[str]:
    """Every name or text of ``definition`` that a database could not store (empty: none)."""
    problems: list[str] = []
    for what, value, longest in _texts(definition):
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(f"{what} is not a string: {value!r}")
            continue
        problem = text_problem(value, longest)
        if problem is not None:
            shown = value if len(value) <= 40 else value[:40] + "..."
            problems.append(f"{what} {shown!r} {problem}")
    for name, step in definition.steps.items():
        if step.step_type is StepType.HUMAN:
            problem = groups_problem(tuple(getattr(step, "candidate_groups", ())))
            if problem is not None:
                problems.append(f"step {name!r}: {problem}")
    return problems
