"""How a definition's ``steps`` dict becomes its graph: keys name steps, groups expand in place.

Two things a definition accepts besides a step registered under its own name:

* a step registered under another key (``{"approve": ManagerApproval()}`` where the class says
  ``name = "manager_approval"``): the key names the step in this workflow, so the definition
  holds a copy renamed to the key. The step object itself is left alone, because other
  definitions may share it under its own name or another key.
* a step group (anything with ``to_fragment(key)``, such as ``steps.groups.SequentialGroup``):
  it expands into ordinary steps, gateways and edges (a *fragment*) with one entry and one exit.
  Edges into the group's key lead to its entry, edges out of it leave from its exit, and the key
  may be the initial or a terminal step. The expanded steps are what runs and is stored, so a
  group is as durable as any hand-written graph.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from litestar_workflows.core.definition import Edge
from litestar_workflows.core.exceptions import WorkflowValidationError
from litestar_workflows.core.protocols import Step

__all__ = ("BoundSteps", "GraphFragment", "StepGroupLike", "bind_steps", "renamed")


@dataclass(slots=True)
class GraphFragment:
    """Steps and edges with one way in (``entry``) and one way out (``exit``)."""

    steps: dict[str, Step]
    edges: list[Edge] = field(default_factory=list)
    entry: str = ""
    exit: str = ""


@runtime_checkable
class StepGroupLike(Protocol):
    """Something a definition expands into a fragment when it is registered under ``key``."""

    def to_fragment(self, key: str) -> GraphFragment:
        """The steps and edges that stand for this group; every step name starts with ``key``."""
        ...


@dataclass(slots=True)
class BoundSteps:
    """A definition's graph once keys are bound and groups expanded."""

    steps: dict[str, Step]
    edges: list[Edge]
    initial_step: str
    terminal_steps: set[str]


def renamed(step: Step, name: str) -> Step:
    """``step`` itself when it is already called ``name``, else a shallow copy called ``name``."""
    if getattr(step, "name", None) == name:
        return step
    clone = copy.copy(step)
    try:
        clone.name = name
    except (AttributeError, TypeError) as exc:  # a frozen or slotted step without a settable name
        raise WorkflowValidationError(
            f"step {getattr(step, 'name', step)!r} cannot be registered as {name!r}",
            [f"{type(step).__name__} does not allow setting 'name' on a copy: register it under its own name"],
        ) from exc
    return clone


def bind_steps(
    steps: Mapping[str, Step | StepGroupLike], edges: Iterable[Edge], initial_step: str, terminal_steps: Iterable[str]
) -> BoundSteps | None:
    """The bound graph, or None when every step is already registered under its own name."""
    if all(getattr(step, "name", None) == key for key, step in steps.items()):
        return None
    bound: dict[str, Step] = {}
    inner_edges: list[Edge] = []
    entry: dict[str, str] = {}
    exit_: dict[str, str] = {}
    for key, item in steps.items():
        if isinstance(item, StepGroupLike) and not isinstance(item, Step):
            fragment = item.to_fragment(key)
            _add_all(bound, fragment.steps, key, steps)
            inner_edges.extend(fragment.edges)
            entry[key], exit_[key] = fragment.entry, fragment.exit
        else:
            _add_all(bound, {key: renamed(item, key)}, key, steps)
    outer_edges = [
        edge
        if edge.source not in exit_ and edge.target not in entry
        else Edge(exit_.get(edge.source, edge.source), entry.get(edge.target, edge.target), edge.condition)
        for edge in edges
    ]
    return BoundSteps(
        bound,
        [*inner_edges, *outer_edges],
        entry.get(initial_step, initial_step),
        {exit_.get(name, name) for name in terminal_steps},
    )


def _add_all(bound: dict[str, Step], new: Mapping[str, Step], key: str, declared: Mapping[str, object]) -> None:
    for name, step in new.items():
        if name in bound or (name != key and name in declared):
            raise WorkflowValidationError(
                f"step name {name!r} is used twice",
                [f"the step group registered as {key!r} names one of its steps {name!r}: rename one of them"],
            )
        bound[name] = step
