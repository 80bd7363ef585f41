"""Which instances a caller may see, as data a persistence can turn into a query.

The authorization policy (``litestar_workflows.policy``) decides who sees what by returning an
:class:`InstanceScope`; listing evaluates the scope in the database (so pages and totals count
only visible instances), and everything else evaluates it here, with :func:`instance_in_scope`.
Both must agree: a property test compares the SQL filter with this function.

A sub-workflow instance is visible to whoever may see its parent (and so, up the chain, to
whoever may see any of its ancestors), besides whoever it admits by its own right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from litestar_workflows.core.identity import Identity, can_act_on
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData

__all__ = ("Ancestors", "InstanceScope", "instance_in_scope")

Ancestors = Sequence[tuple[WorkflowInstanceData, Iterable[HumanTaskData]]]
"""An instance's parent, its parent's parent and so on, each with all its tasks."""


@dataclass(frozen=True, slots=True)
class InstanceScope:
    """The instances a caller may see: all of them, or the union of the kinds named.

    An instance is in scope when ``everything`` is set, or it was started by one of
    ``started_by``, or it was started without a recorded starter and ``started_anonymously`` is
    set, or one of its tasks (open or done) may be acted on by ``task_actor`` (the task rule
    ``can_act_on``, without admin rights), or it is an instance of one of ``workflows``.
    The empty scope (the default) holds nothing.
    """

    everything: bool = False
    started_by: frozenset[str] = field(default_factory=frozenset)
    started_anonymously: bool = False
    task_actor: Identity | None = None
    workflows: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def all_instances(cls) -> InstanceScope:
        """Every instance (what admins see)."""
        return cls(everything=True)


def instance_in_scope(
    scope: InstanceScope, instance: WorkflowInstanceData, tasks: Iterable[HumanTaskData], ancestors: Ancestors = ()
) -> bool:
    """True if ``instance``, whose tasks (all of them, open or done) are ``tasks``, is in ``scope``.

    It is, by its own right (the scope's kinds), or because one of its ``ancestors`` is by theirs:
    a sub-workflow instance is visible to whoever may see its parent.
    """
    return _by_own_right(scope, instance, tasks) or any(
        _by_own_right(scope, ancestor, ancestor_tasks) for ancestor, ancestor_tasks in ancestors
    )


def _by_own_right(scope: InstanceScope, instance: WorkflowInstanceData, tasks: Iterable[HumanTaskData]) -> bool:
    if scope.everything or instance.workflow_name in scope.workflows:
        return True
    starter = instance.started_by
    if (starter is None and scope.started_anonymously) or (starter is not None and starter in scope.started_by):
        return True
    actor = scope.task_actor
    if actor is None or actor.is_anonymous:
        return False
    return any(task.instance_id == instance.id and can_act_on(task, actor, None) for task in tasks)
