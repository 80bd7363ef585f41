"""Who-may-see-what as SQL: the task rule and the instance scope, as WHERE clauses.

Each clause is the SQL form of a Python rule (``core.identity.can_act_on`` and
``core.access.instance_in_scope``); property tests check that both give the same answers.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import ColumnElement, Table, and_, exists, false, or_, select, true

from litestar_workflows.core.access import InstanceScope
from litestar_workflows.db.models import HumanTaskModel, WorkflowInstanceModel

__all__ = ("instance_in_scope_clause", "offered_to_clause", "task_visible_to_clause")

_INSTANCES = cast("Table", WorkflowInstanceModel.__table__)
_TASKS = cast("Table", HumanTaskModel.__table__)


def offered_to_clause(group: str) -> ColumnElement[bool]:
    """Tasks offered to ``group`` (one of their candidate groups is exactly ``group``).

    ``groups_text`` joins the candidate groups with commas (",a,b,"), so a name holding a comma
    would match several groups in a row; no candidate group holds one (definitions with such a
    group are refused), so such a name matches nothing, as in ``can_act_on``.
    """
    if "," in group:
        return false()
    return _TASKS.c.groups_text.contains(f",{group},", autoescape=True)


def task_visible_to_clause(user_id: str, groups: frozenset[str]) -> ColumnElement[bool]:
    """Tasks ``user_id`` (member of ``groups``) may act on: assigned to them, or unassigned and
    offered to one of their groups or to nobody in particular (``can_act_on`` without admin rights)."""
    columns = _TASKS.c
    offered = [offered_to_clause(group) for group in sorted(groups)]
    return or_(
        columns.assignee == user_id,
        and_(columns.assignee.is_(None), or_(columns.groups_text == "", *offered)),
    )


def instance_in_scope_clause(scope: InstanceScope) -> ColumnElement[bool]:
    """Instances in ``scope``: a condition on ``workflow_instance`` rows (with an EXISTS over their tasks)."""
    if scope.everything:
        return true()
    columns = _INSTANCES.c
    alternatives: list[ColumnElement[bool]] = []
    if scope.started_by:
        alternatives.append(columns.started_by.in_(sorted(scope.started_by)))
    if scope.started_anonymously:
        alternatives.append(columns.started_by.is_(None))
    if scope.workflows:
        alternatives.append(columns.workflow_name.in_(sorted(scope.workflows)))
    actor = scope.task_actor
    if actor is not None and actor.user_id is not None:
        tasks = select(_TASKS.c.id).where(
            _TASKS.c.instance_id == columns.id, task_visible_to_clause(actor.user_id, actor.groups)
        )
        alternatives.append(exists(tasks))
    return or_(*alternatives) if alternatives else false()
