"""Structural analysis of a definition: adjacency, joins, reachability, validation, Mermaid."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from litestar_workflows.core.context import WorkflowContext
from litestar_workflows.core.definition import Edge
from litestar_workflows.core.definition_limits import definition_limit_problems
from litestar_workflows.core.form_types import form_type_problems
from litestar_workflows.core.forms import check_form_schema
from litestar_workflows.core.kinds import StepKind, kind_of
from litestar_workflows.core.types import StepType

if TYPE_CHECKING:
    from litestar_workflows.core.definition import WorkflowDefinition
    from litestar_workflows.core.protocols import Step

__all__ = ("WorkflowGraph",)


def _implied_edges(definition: WorkflowDefinition) -> list[Edge]:
    """The declared edges plus one edge per parallel-gateway branch that was not declared."""
    edges = list(definition.edges)
    declared = {(edge.source, edge.target) for edge in edges}
    for name, step in definition.steps.items():
        for branch in getattr(step, "branches", None) or ():
            if (name, branch) not in declared:
                edges.append(Edge(name, branch))
                declared.add((name, branch))
    return edges


class WorkflowGraph:
    """The analysed graph of one definition. Build it with ``definition.graph`` (cached)."""

    __slots__ = (
        "definition",
        "edges",
        "incoming",
        "joins",
        "kinds",
        "outgoing",
        "reach",
        "unconditional",
    )

    def __init__(self, definition: WorkflowDefinition) -> None:
        self.definition = definition
        self.edges = _implied_edges(definition)
        self.outgoing: dict[str, list[Edge]] = {name: [] for name in definition.steps}
        self.incoming: dict[str, list[str]] = {name: [] for name in definition.steps}
        for edge in self.edges:
            self.outgoing.setdefault(edge.source, []).append(edge)
            sources = self.incoming.setdefault(edge.target, [])
            if edge.source not in sources:
                sources.append(edge.source)
        self.joins = frozenset(name for name, sources in self.incoming.items() if len(sources) > 1)
        """Steps with several incoming sources: they run once per set of arriving branches."""
        self.reach = {name: self._reachable_from(name) for name in self.outgoing}
        """Steps reachable from each step through at least one edge."""
        self.unconditional: dict[str, tuple[str, ...]] = {
            name: tuple(dict.fromkeys(edge.target for edge in edges))
            for name, edges in self.outgoing.items()
            if edges and all(edge.condition is None for edge in edges)
        }
        """Next steps of the steps whose outgoing edges have no condition (no need to evaluate)."""
        self.kinds: dict[str, StepKind] = {name: kind_of(step) for name, step in definition.steps.items()}
        """The kind of each step (what entering it does, what it accepts)."""

    @classmethod
    def from_definition(cls, definition: WorkflowDefinition) -> WorkflowGraph:
        """The (cached) graph of ``definition``."""
        return definition.graph

    def _reachable_from(self, start: str) -> frozenset[str]:
        seen: set[str] = set()
        stack = [edge.target for edge in self.outgoing.get(start, ())]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(edge.target for edge in self.outgoing.get(name, ()))
        return frozenset(seen)

    def get_next_steps(self, current: str, context: WorkflowContext) -> list[str]:
        """Targets of every outgoing edge of step ``current`` whose condition holds, in declared order."""
        targets: list[str] = []
        for edge in self.outgoing.get(current, ()):
            if edge.target not in targets and edge.evaluate(context):
                targets.append(edge.target)
        return targets

    def get_previous_steps(self, current: str) -> list[str]:
        """Sources of the edges into step ``current``."""
        return list(self.incoming.get(current, ()))

    def targets_of(self, step_name: str) -> list[str]:
        """Every declared target of ``step_name``, regardless of conditions."""
        return [edge.target for edge in self.outgoing.get(step_name, ())]

    def is_terminal(self, step_name: str) -> bool:
        """True if ``step_name`` ends its branch: a declared terminal step, or one with no outgoing edge.

        (A valid definition declares every step without an outgoing edge terminal.)
        """
        return step_name in self.definition.terminal_steps or not self.outgoing.get(step_name)

    def is_join(self, step_name: str) -> bool:
        """True if ``step_name`` waits for every branch that can still reach it."""
        return step_name in self.joins

    def can_reach(self, source: str, target: str) -> bool:
        """True if a path of one or more edges leads from ``source`` to ``target``."""
        return target in self.reach.get(source, ())

    def validate(self) -> list[str]:
        """Every structural problem of the definition (empty when it is valid); see :meth:`problems_of`."""
        return self.problems_of(self.definition)

    def get_all_paths(self, start: str, end: str, max_paths: int = 100) -> list[list[str]]:
        """Every path from ``start`` to ``end`` that visits no step twice (at most ``max_paths`` of them).

        Loops are followed once around: a path never repeats a step, so cycles cannot make it endless.
        """
        paths: list[list[str]] = []
        if start not in self.outgoing or max_paths <= 0:
            return paths
        if start == end:
            return [[start]]
        # Depth-first, with an explicit stack of (path so far, targets still to try from its end).
        stack: list[tuple[list[str], list[str]]] = [([start], self.targets_of(start))]
        while stack and len(paths) < max_paths:
            path, pending = stack[-1]
            if not pending:
                stack.pop()
                continue
            target = pending.pop(0)
            if target in path:
                continue
            if target == end:
                paths.append([*path, target])
            else:
                stack.append(([*path, target], self.targets_of(target)))
        return paths

    def get_step_depth(self, step_name: str) -> int:
        """Fewest edges from the initial step to ``step_name``; -1 when it cannot be reached."""
        depth = {self.definition.initial_step: 0}
        frontier = [self.definition.initial_step]
        while frontier and step_name not in depth:
            following: list[str] = []
            for name in frontier:
                for target in self.targets_of(name):
                    if target not in depth:
                        depth[target] = depth[name] + 1
                        following.append(target)
            frontier = following
        return depth.get(step_name, -1)

    @staticmethod
    def problems_of(definition: WorkflowDefinition) -> list[str]:
        """Every structural problem of ``definition``; an empty list means it is valid."""
        problems = _naming_problems(definition)
        if _has_dangling_names(definition):
            return problems  # reachability on a graph with dangling names would only repeat the same errors
        return problems + _reachability_problems(definition, WorkflowGraph(definition))

    def to_mermaid(
        self,
        current: str | Iterable[str] | None = None,
        completed: Iterable[str] = (),
        failed: Iterable[str] = (),
    ) -> str:
        """The graph as a Mermaid flowchart, optionally with state classes."""
        lines = ["flowchart TD"]
        for name, step in self.definition.steps.items():
            lines.append(f"    {_node_id(name)}{_shape(name, step, self.is_terminal(name))}")
        for edge in self.edges:
            arrow = f" -->|{_escape(edge.label)}| " if edge.label else " --> "
            lines.append(f"    {_node_id(edge.source)}{arrow}{_node_id(edge.target)}")
        current_steps = [current] if isinstance(current, str) else list(current or ())
        styles = (
            ("completed", list(completed), "fill:#d4edda,stroke:#28a745"),
            ("failed", list(failed), "fill:#f8d7da,stroke:#dc3545"),
            ("current", current_steps, "fill:#fff3cd,stroke:#ffc107,stroke-width:3px"),
        )
        for css_class, names, style in styles:
            known = [_node_id(name) for name in names if name in self.definition.steps]
            if known:
                lines.append(f"    classDef {css_class} {style}")
                lines.append(f"    class {','.join(known)} {css_class}")
        return "\n".join(lines)


_MERMAID_KEYWORDS = frozenset(
    {
        "end",
        "graph",
        "subgraph",
        "flowchart",
        "style",
        "class",
        "classdef",
        "click",
        "linkstyle",
        "direction",
        "default",
    }
)


def _node_id(name: str) -> str:
    node = "".join(char if char.isalnum() or char == "_" else "_" for char in name)
    # Mermaid reads some words as syntax ("end" closes a subgraph), so such ids get a suffix.
    return f"{node}_" if node.lower() in _MERMAID_KEYWORDS else node


def _escape(text: str) -> str:
    return text.replace('"', "#quot;").replace("|", "#124;")


def _shape(name: str, step: Step, terminal: bool) -> str:
    kind = kind_of(step)
    label = _escape(kind.diagram_label(name, step))
    if kind.mermaid_shape is not None:  # the kind's own shape, even for a terminal step
        return kind.mermaid_shape.replace("{label}", f'"{label}"')
    step_type = step.step_type
    if terminal:
        return f'(["{label}"])'
    if step_type is StepType.GATEWAY:
        return f'{{"{label}"}}'
    if step_type is StepType.HUMAN:
        return f'[/"{label}"/]'
    if step_type in {StepType.TIMER, StepType.WEBHOOK}:
        return f'(("{label}"))'
    return f'["{label}"]'


def _naming_problems(definition: WorkflowDefinition) -> list[str]:
    """What is wrong with the definition's names, steps, forms and edges, read one by one."""
    problems: list[str] = []
    steps = definition.steps
    if not definition.name:
        problems.append("the workflow has no name")
    problems.extend(definition_limit_problems(definition))
    for key, step in steps.items():
        if getattr(step, "name", key) != key:
            problems.append(f"step registered as {key!r} is named {step.name!r}")
    if definition.initial_step not in steps:
        problems.append(f"initial step {definition.initial_step!r} does not exist")
    if not definition.terminal_steps:
        problems.append("no terminal step: declare terminal_steps")
    problems.extend(
        f"terminal step {name!r} does not exist" for name in sorted(definition.terminal_steps) if name not in steps
    )
    if definition.input_type is not None:
        problems.extend(form_type_problems("input type", definition.input_type))
    for name, step in steps.items():
        schema = getattr(step, "form_schema", None)
        if step.step_type is StepType.HUMAN and schema is not None:
            problems.extend(check_form_schema(name, schema))
        problems.extend(
            f"parallel gateway {name!r} has unknown branch {branch!r}"
            for branch in getattr(step, "branches", None) or ()
            if branch not in steps
        )
    for edge in definition.edges:
        problems.extend(
            f"edge {edge.source!r} -> {edge.target!r}: {end} step {name!r} not found"
            for end, name in (("source", edge.source), ("target", edge.target))
            if name not in steps
        )
    return problems


def _has_dangling_names(definition: WorkflowDefinition) -> bool:
    """Whether the initial step, a terminal step, an edge or a branch names a step that does not exist."""
    known = set(definition.steps)
    if definition.initial_step not in known or not definition.terminal_steps <= known:
        return True
    if any(not {edge.source, edge.target} <= known for edge in definition.edges):
        return True
    return any(not set(getattr(step, "branches", None) or ()) <= known for step in definition.steps.values())


def _reachability_problems(definition: WorkflowDefinition, graph: WorkflowGraph) -> list[str]:
    """Steps that cannot be reached, dead ends, and steps from which no terminal step can be reached."""
    reachable = graph.reach[definition.initial_step] | {definition.initial_step}
    problems = [
        f"step {name!r} is unreachable from {definition.initial_step!r}"
        for name in definition.steps
        if name not in reachable
    ]
    for name in definition.steps:
        outgoing = graph.outgoing[name]
        if name in definition.terminal_steps:
            if outgoing:
                problems.append(f"terminal step {name!r} has outgoing edges")
        elif not outgoing:
            problems.append(f"step {name!r} is not terminal and has no outgoing edge")
        elif not (graph.reach[name] & definition.terminal_steps):
            problems.append(f"step {name!r} can never reach a terminal step")
    return problems
