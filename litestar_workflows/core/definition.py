"""A workflow definition: named steps, the edges between them, where it starts and ends."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from litestar_workflows.core.conditions import CompiledCondition, compile_condition
from litestar_workflows.core.context import WorkflowContext
from litestar_workflows.core.form_types import form_type_schema
from litestar_workflows.core.protocols import Step

if TYPE_CHECKING:
    from litestar_workflows.core.graph import WorkflowGraph

__all__ = ("Edge", "EdgeCondition", "WorkflowDefinition", "step_name_of")

EdgeCondition = Callable[[WorkflowContext], bool] | str | None
"""A callable on the context, a condition expression (see ``core.conditions``), or None (always)."""


def step_name_of(ref: object) -> str:
    """Name of a step given as a name, a step instance or a step class with a ``name`` attribute."""
    if isinstance(ref, str):
        return ref
    name = getattr(ref, "name", None)
    if isinstance(name, str) and name:
        return name
    msg = f"cannot tell the step name of {ref!r}: give a name or a step with a 'name' attribute"
    raise TypeError(msg)


@dataclass(slots=True, init=False)
class Edge:
    """A transition from ``source`` to ``target``, taken when ``condition`` holds."""

    source: str
    target: str
    condition: EdgeCondition = None
    _compiled: CompiledCondition | None = field(default=None, repr=False, compare=False)

    def __init__(self, source: str | object, target: str | object, condition: EdgeCondition = None) -> None:
        self.source = step_name_of(source)
        self.target = step_name_of(target)
        self.condition = condition
        # String conditions are compiled here so a bad one fails at definition time.
        self._compiled = compile_condition(condition) if isinstance(condition, str) else None

    def evaluate(self, context: WorkflowContext) -> bool:
        """True when the edge may be taken."""
        if self.condition is None:
            return True
        if self._compiled is not None:
            return self._compiled(context.data)
        return bool(self.condition(context))  # type: ignore[operator]

    def evaluate_condition(self, context: WorkflowContext) -> bool:
        """True when the edge may be taken (0.3's name for :meth:`evaluate`).

        A string condition is evaluated (0.3 treated every string condition as true).
        """
        return self.evaluate(context)

    def get_source_name(self) -> str:
        """The source step's name (kept for code written against the reference API)."""
        return self.source

    def get_target_name(self) -> str:
        """The target step's name (kept for code written against the reference API)."""
        return self.target

    @property
    def label(self) -> str | None:
        """Short text describing the condition, for diagrams."""
        if self.condition is None:
            return None
        if isinstance(self.condition, str):
            return self.condition
        name = getattr(self.condition, "__name__", "condition")
        return "condition" if name == "<lambda>" else name


@dataclass(eq=False)
class WorkflowDefinition:
    """The structure of one version of a workflow.

    ``input_type`` (a msgspec Struct, a dataclass or a TypedDict) types the start data: a start
    whose data does not fit it is refused with per-field errors and creates no instance, and the
    instance starts with the type's fields (read them back with ``context.get_form(Type)``).
    """

    name: str
    version: str
    description: str
    steps: dict[str, Step]
    edges: list[Edge]
    initial_step: str
    terminal_steps: set[str] = field(default_factory=set)
    input_type: type[Any] | None = None
    start_groups: Collection[str] = frozenset()
    """Groups whose members may start the workflow through the API (any one suffices); empty:
    any identified caller may. Stored as a frozenset; a single string is one group's name."""

    @property
    def input_schema(self) -> dict[str, Any] | None:
        """JSON Schema of the start data (derived from ``input_type``), for clients to render a form."""
        return None if self.input_type is None else form_type_schema(self.input_type)

    def __post_init__(self) -> None:
        groups = self.start_groups
        self.start_groups = frozenset((groups,) if isinstance(groups, str) else groups)
        # A step registered under a key other than its name gets a renamed copy, and a step group
        # expands into steps and edges (see ``core.fragments``); plain definitions are left as given.
        from litestar_workflows.core.fragments import bind_steps

        bound = bind_steps(self.steps, self.edges, self.initial_step, self.terminal_steps)
        if bound is not None:
            self.steps, self.edges = bound.steps, bound.edges
            self.initial_step, self.terminal_steps = bound.initial_step, bound.terminal_steps

    @cached_property
    def graph(self) -> WorkflowGraph:
        """The analysed graph (adjacency, joins, reachability), built once."""
        from litestar_workflows.core.graph import WorkflowGraph

        return WorkflowGraph(self)

    def validate(self) -> list[str]:
        """Every structural problem of the definition (empty when it is valid)."""
        from litestar_workflows.core.graph import WorkflowGraph

        return WorkflowGraph.problems_of(self)

    def get_next_steps(self, current_step: str, context: WorkflowContext) -> list[str]:
        """Names of the steps that follow ``current_step`` for this context."""
        return self.graph.get_next_steps(current_step, context)

    def to_mermaid(self) -> str:
        """The graph as a Mermaid flowchart."""
        return self.graph.to_mermaid()

    def to_mermaid_with_state(
        self,
        current_step: str | list[str] | None = None,
        completed_steps: list[str] | None = None,
        failed_steps: list[str] | None = None,
    ) -> str:
        """The Mermaid flowchart with current, completed and failed steps highlighted."""
        return self.graph.to_mermaid(current=current_step, completed=completed_steps or [], failed=failed_steps or [])
