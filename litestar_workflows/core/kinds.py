"""Step kinds: what a token does when it enters a step, and which events the step then accepts.

The engine never asks a step what type it is. It asks the step's kind (:func:`kind_of`):

- :meth:`StepKind.enter` says what entering does: the token becomes runnable (code will run),
  runnable after a delay (a timer), or waits (for a person's completion, a signal, a child);
  it may open a task, or fail the instance (a timer whose duration cannot be computed).
- :attr:`StepKind.accepts` names the events the step accepts while a token is on it: ``attempt``
  (its code ran), ``choice`` (a gateway picked branches), ``completion`` (a task was completed),
  ``signal``, ``timer``, ``child`` (a child instance finished). The reducer refuses a command
  whose event the step's kind does not accept.
- :attr:`StepKind.runs_code` says whether a runnable token runs the step's ``execute`` (an
  attempt) or, being due, simply fires (a timer).
- :meth:`StepKind.problems` says why a definition using the kind may not be registered (beyond
  the checks every definition gets), and :attr:`StepKind.mermaid_shape` with
  :meth:`StepKind.diagram_label` how the diagram draws the step.

What a kind needs done along with a commit (an ``Entry.effect``, or something when an instance
ends) is carried out by handlers its own module registers with ``engine.effects``.

A new kind is a subclass of :class:`StepKind` set as the ``step_kind`` class attribute of its
step class; see "How to add a step kind" in docs/concepts.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from litestar_workflows.core.types import StepType

if TYPE_CHECKING:
    from litestar_workflows.core.context import WorkflowContext
    from litestar_workflows.core.definition import WorkflowDefinition
    from litestar_workflows.core.graph import WorkflowGraph
    from litestar_workflows.core.protocols import Step

__all__ = (
    "ATTEMPT",
    "CHILD",
    "CHOICE",
    "COMPLETION",
    "EXCLUSIVE_GATEWAY",
    "MACHINE",
    "PARALLEL_GATEWAY",
    "SIGNAL",
    "SIGNAL_WAIT",
    "TASK",
    "TIMER",
    "TIMER_WAIT",
    "TRANSACTIONAL",
    "Entry",
    "GatewayChoiceError",
    "StepKind",
    "kind_of",
)

ATTEMPT = "attempt"
"""The step's code ran (succeeded, failed, timed out)."""
CHOICE = "choice"
"""A gateway picked the branches to take."""
COMPLETION = "completion"
"""A person completed the step's task."""
SIGNAL = "signal"
"""An outside signal arrived (``engine.signal``)."""
TIMER = "timer"
"""The step's due time passed."""
CHILD = "child"
"""A child instance the step started finished."""


@dataclass(frozen=True, slots=True)
class Entry:
    """What entering a step does to the token.

    ``waits``: the token waits for an outside event (otherwise it is runnable); ``delay``: a
    runnable token is not run before this much time passed; ``opens_task``: a human task is
    opened for the token; ``failure``: entering failed, and the instance fails with this message.
    ``effect``: anything else the kind needs done together with the commit (a child to start);
    the reducer collects it into ``Transition.effects``, and the runtime hands it to the handler
    registered for its type (``engine.effects.register_effect``) before the commit.
    """

    waits: bool = False
    delay: timedelta | None = None
    opens_task: bool = False
    failure: str | None = None
    effect: object | None = None


RUNNABLE = Entry()


class GatewayChoiceError(Exception):
    """A gateway could not pick a branch: its instance fails at once (retrying would not help)."""


class StepKind:
    """The behaviour shared by every step of one kind (a stateless singleton per kind).

    The defaults describe a plain machine step: entering makes the token runnable, its code
    runs, the outcome of the attempt is accepted and the edges' conditions pick what follows.
    """

    name: ClassVar[str] = "machine"
    accepts: ClassVar[frozenset[str]] = frozenset({ATTEMPT})
    runs_code: ClassVar[bool] = True
    transactional: ClassVar[bool] = False
    """The attempt runs inside the transaction that records its success (``context.session``)."""
    mermaid_shape: ClassVar[str | None] = None
    """How the diagram draws the kind's steps: a Mermaid node shape around ``{label}`` (the diagram
    puts the quoted label there), such as ``"[[{label}]]"``, a subroutine. None: the shape of the
    step's ``step_type``."""

    def enter(self, step: Step, context: Callable[[], WorkflowContext]) -> Entry:
        """What entering ``step`` does; ``context()`` builds the token's context when needed (it costs a copy)."""
        return RUNNABLE

    def choose(self, graph: WorkflowGraph, step: Step, context: WorkflowContext, result: Any) -> list[str] | None:
        """The branches taken after a successful attempt; None: evaluate the edge conditions."""
        return None

    def received(self, step: Step, payload: Any) -> dict[str, Any]:
        """The data a signal's ``payload`` writes (kinds that accept ``signal``)."""
        return {}

    def problems(self, definition: WorkflowDefinition, registry: Any) -> list[str]:
        """Why ``definition``, which has steps of this kind, may not be registered in ``registry``.

        ``registry`` is the ``WorkflowRegistry`` registering it (the workflows it knows so far).
        Asked once per kind when a definition is registered; an empty list lets it through.
        """
        return []

    def diagram_label(self, name: str, step: Step) -> str:
        """The text of step ``name``'s node in the diagram (drawn in :attr:`mermaid_shape`)."""
        return name

    def __repr__(self) -> str:
        return f"<step kind {self.name}>"


class _Transactional(StepKind):
    name = "transactional"
    transactional = True


class _Task(StepKind):
    """A human task: the token waits for a person's completion."""

    name = "task"
    accepts = frozenset({COMPLETION})
    runs_code = False

    def enter(self, step: Step, context: Callable[[], WorkflowContext]) -> Entry:
        return _OPENS_TASK


_OPENS_TASK = Entry(waits=True, opens_task=True)
_WAITS = Entry(waits=True)


class _SignalWait(StepKind):
    """Waits for ``engine.signal``; the payload lands in the step's ``callback_key``."""

    name = "signal"
    accepts = frozenset({SIGNAL})
    runs_code = False

    def enter(self, step: Step, context: Callable[[], WorkflowContext]) -> Entry:
        return _WAITS

    def received(self, step: Step, payload: Any) -> dict[str, Any]:
        key: str = getattr(step, "callback_key", "webhook_data")
        return {key: payload}


class _TimerWait(StepKind):
    """Runnable after the step's duration (stored, not slept on); fires without running code."""

    name = "timer"
    accepts = frozenset({TIMER})
    runs_code = False

    def enter(self, step: Step, context: Callable[[], WorkflowContext]) -> Entry:
        duration: Callable[[WorkflowContext], timedelta] = step.get_duration  # type: ignore[attr-defined]
        try:
            return Entry(delay=duration(context()))
        except Exception as exc:  # noqa: BLE001 - a user callable; its failure fails the instance
            return Entry(failure=f"timer {step.name!r} could not compute its duration: {exc!r}")


class _ParallelGateway(StepKind):
    name = "parallel gateway"
    accepts = frozenset({ATTEMPT, CHOICE})

    def choose(self, graph: WorkflowGraph, step: Step, context: WorkflowContext, result: Any) -> list[str] | None:
        return graph.targets_of(step.name)


class _ExclusiveGateway(StepKind):
    name = "exclusive gateway"
    accepts = frozenset({ATTEMPT, CHOICE})

    def choose(self, graph: WorkflowGraph, step: Step, context: WorkflowContext, result: Any) -> list[str] | None:
        if result is None:
            matching = graph.get_next_steps(step.name, context)
            if not matching:
                raise GatewayChoiceError(f"exclusive gateway {step.name!r} matched no branch")
            return matching[:1]
        targets = graph.targets_of(step.name)
        if result not in targets:
            raise GatewayChoiceError(
                f"exclusive gateway {step.name!r} chose {result!r}, which is not one of its branches {targets}"
            )
        return [result]


MACHINE = StepKind()
TRANSACTIONAL: StepKind = _Transactional()
TASK: StepKind = _Task()
SIGNAL_WAIT: StepKind = _SignalWait()
TIMER_WAIT: StepKind = _TimerWait()
EXCLUSIVE_GATEWAY: StepKind = _ExclusiveGateway()
PARALLEL_GATEWAY: StepKind = _ParallelGateway()

_BY_TYPE = {
    StepType.MACHINE: MACHINE,
    StepType.HUMAN: TASK,
    StepType.WEBHOOK: SIGNAL_WAIT,
    StepType.TIMER: TIMER_WAIT,
    StepType.GATEWAY: EXCLUSIVE_GATEWAY,
}


def kind_of(step: Step) -> StepKind:
    """The kind of ``step``: its class's ``step_kind``.

    A step written against the ``Step`` protocol alone (no ``step_kind``) gets the kind of its
    declared ``step_type``, so 0.3-style steps keep working.
    """
    kind = getattr(step, "step_kind", None)
    if isinstance(kind, StepKind):
        return kind
    return _BY_TYPE[step.step_type]
