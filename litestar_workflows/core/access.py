"""Which instances a caller may see, as data a persistence can turn into a query.

The authorization policy (``litestar_workflows.policy``) decides who sees what by returning an
:class:`InstanceScope`; listing evaluates the scope in the database (so pages and totals count
only visible instances), and everything else evaluates it here, with :func:`instance_in_scope`.
Both must agree: a property test compares the SQL filter with this function.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from litestar_workflows.core.identity import Identity, can_act_on
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData

__all__ = ("InstanceScope", "instance_in_scope")


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


def instance_in_scope(scope: InstanceScope, instance: WorkflowInstanceData, tasks: Iterable[HumanTaskData]) -> bool:
    """True if ``instance``, whose tasks (all of them, open or done) are ``tasks``, is in ``scope``."""
    if scope.everything or instance.workflow_name in scope.workflows:
        return True
    starter = instance.started_by
    if (starter is None and scope.started_anonymously) or (starter is not None and starter in scope.started_by):
        return True
    actor = scope.task_actor
    if actor is None or actor.is_anonymous:
        return False
    return any(task.instance_id == instance.id and can_act_on(task, actor, None) for task in tasks)
