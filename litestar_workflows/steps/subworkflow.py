"""A step that runs another workflow as a child instance and waits for it.

Reaching a :class:`SubWorkflowStep` starts an instance of the named workflow (its version fixed
at that moment) in the same commit that makes the parent's branch wait; the child's last change
resumes the parent in the child's own commit. What the engine does with it lives in
``engine.subworkflows``; this module holds what a definition author writes, and the checks made
when a definition is registered (an unknown child workflow, a cycle of calls).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from litestar_workflows.core.context import WorkflowContext
from litestar_workflows.core.exceptions import WorkflowValidationError
from litestar_workflows.core.kinds import CHILD, Entry, StepKind
from litestar_workflows.core.types import StepType
from litestar_workflows.steps.base import BaseStep

if TYPE_CHECKING:
    from litestar_workflows.core.definition import WorkflowDefinition
    from litestar_workflows.engine.registry import WorkflowRegistry

__all__ = ("CALL", "START_CHILD", "ChildInput", "StartChild", "SubWorkflowStep", "call_problems")

ChildInput = Mapping[str, str] | Callable[[WorkflowContext], Mapping[str, Any]]
"""The child's start data: ``{child key: parent key}``, or a function of the parent's context."""


class StartChild:
    """The effect of entering a sub-workflow step: start its child with the commit (``engine.subworkflows``)."""

    def __repr__(self) -> str:
        return "START_CHILD"


START_CHILD = StartChild()


class _Call(StepKind):
    """A call of another workflow: the token waits for its child, and accepts the child's end."""

    name = "sub-workflow"
    accepts = frozenset({CHILD})
    runs_code = False
    mermaid_shape = "[[{label}]]"  # a subroutine

    def enter(self, step: Any, context: Callable[[], WorkflowContext]) -> Entry:
        return _STARTS_CHILD

    def problems(self, definition: WorkflowDefinition, registry: WorkflowRegistry) -> list[str]:
        return call_problems(registry, definition)

    def diagram_label(self, name: str, step: Any) -> str:
        return f"{name}: {getattr(step, 'workflow', '')}"  # the call names the child workflow


_STARTS_CHILD = Entry(waits=True, effect=START_CHILD)
CALL: StepKind = _Call()
"""The kind of every ``SubWorkflowStep``."""


class SubWorkflowStep(BaseStep):
    """Run workflow ``workflow`` as a child instance; the branch continues when the child ends.

    Args:
        name: The step's name.
        workflow: The child workflow's registered name.
        version: The child's version; None runs the version that is latest when the child starts.
        input: The child's start data. A mapping ``{child key: parent key}`` copies those keys of
            the parent's data (a missing parent key fails the attempt); a callable receives the
            parent's context and returns the data. None: the child starts with no data. The data
            is checked like any start (the child's ``input_type``, storable values).
        output: The child's keys merged into the parent's data when the child completes: a list
            of keys (same name in both), or ``{parent key: child key}``. Keys the child's data
            lacks are not merged.

    A child that fails, or is cancelled, fails the step and with it the parent (``retry_workflow``
    starts a new child); a child that cannot be started (its input cannot be built, or is refused)
    fails the parent as well, and no child is created.
    """

    step_type: StepType = StepType.SUBWORKFLOW
    step_kind: ClassVar[StepKind] = CALL

    def __init__(
        self,
        name: str,
        workflow: str,
        version: str | None = None,
        *,
        input: ChildInput | None = None,
        output: Sequence[str] | Mapping[str, str] = (),
        description: str = "",
    ) -> None:
        super().__init__(name, description or None)
        if not workflow:
            msg = f"step {self.name!r}: name the child workflow"
            raise ValueError(msg)
        self.workflow = workflow
        self.version = version
        self.input = input
        self.output: dict[str, str] = dict(output) if isinstance(output, Mapping) else {key: key for key in output}

    def child_input(self, context: WorkflowContext) -> dict[str, Any]:
        """The child's start data, from the parent's ``context``; ``WorkflowValidationError`` if it cannot be built."""
        source = self.input
        if source is None:
            return {}
        if callable(source):
            built: object = source(context)
            if not isinstance(built, Mapping):
                msg = f"the input of step {self.name!r} returned {type(built).__name__}, not a mapping"
                raise WorkflowValidationError(msg)
            return dict(built)
        data = context.data
        missing = sorted(parent_key for parent_key in source.values() if parent_key not in data)
        if missing:
            msg = f"step {self.name!r} passes {', '.join(map(repr, missing))} to its child, which the instance lacks"
            raise WorkflowValidationError(msg)
        return {child_key: data[parent_key] for child_key, parent_key in source.items()}

    def child_output(self, child_data: Mapping[str, Any]) -> dict[str, Any]:
        """What the completed child hands back: the declared keys its data holds, under the parent's names."""
        return {parent: child_data[child] for parent, child in self.output.items() if child in child_data}

    async def execute(self, context: WorkflowContext) -> Any:
        """Never called by the engine, which starts the child instead; None."""
        return None

    def __repr__(self) -> str:
        return f"SubWorkflowStep(name={self.name!r}, workflow={self.workflow!r})"


def _calls(definition: WorkflowDefinition) -> list[SubWorkflowStep]:
    return [step for step in definition.steps.values() if isinstance(step, SubWorkflowStep)]


def _callees(registry: WorkflowRegistry, step: SubWorkflowStep) -> list[WorkflowDefinition]:
    """The definitions ``step`` may start: its pinned version, or every registered one (any may be latest)."""
    if step.version is not None:
        return [registry.get_definition(step.workflow, step.version)]
    return [registry.get_definition(step.workflow, version) for version in registry.get_versions(step.workflow)]


def _cycle_from(registry: WorkflowRegistry, root: str, start: WorkflowDefinition) -> list[str] | None:
    """A chain of workflow names from ``start`` back to ``root`` through registered calls, or None."""
    pending: list[tuple[WorkflowDefinition, list[str]]] = [(start, [start.name])]
    seen: set[tuple[str, str]] = set()
    while pending:
        definition, path = pending.pop()
        if (definition.name, definition.version) in seen:
            continue
        seen.add((definition.name, definition.version))
        for step in _calls(definition):
            if step.workflow == root:
                return [*path, root]
            if registry.has_workflow(step.workflow, step.version):
                pending.extend((callee, [*path, callee.name]) for callee in _callees(registry, step))
    return None


def call_problems(registry: WorkflowRegistry, definition: WorkflowDefinition) -> list[str]:
    """Why ``definition``'s sub-workflow steps may not be registered: unknown children, cycles of calls."""
    problems: list[str] = []
    for step in _calls(definition):
        if step.workflow == definition.name:
            problems.append(f"step {step.name!r} calls its own workflow {definition.name!r}: a cycle of calls")
            continue
        if not registry.has_workflow(step.workflow, step.version):
            pinned = "" if step.version is None else f" version {step.version!r}"
            problems.append(
                f"step {step.name!r} calls workflow {step.workflow!r}{pinned}, which is not registered; "
                "register the child workflow before its parent"
            )
            continue
        for callee in _callees(registry, step):
            cycle = _cycle_from(registry, definition.name, callee)
            if cycle is not None:
                chain = " -> ".join([definition.name, *cycle])
                problems.append(f"step {step.name!r} makes a cycle of calls: {chain}")
                break
    return problems
