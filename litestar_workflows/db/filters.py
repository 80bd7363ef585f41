"""Who-may-see-what as SQL: the task rule and the instance scope, as WHERE clauses.

Each clause is the SQL form of a Python rule (``core.identity.can_act_on`` and
``core.access.instance_in_scope``); property tests check that both give the same answers.
"""

from __future__ import annotations

from typing import Any, cast

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
    """Instances in ``scope``: a condition on ``workflow_instance`` rows (with an EXISTS over their tasks).

    A row is in scope by its own right, or when its parent is in scope: the parent is among the
    rows in scope by their own right and their descendants (a recursive query over ``parent_id``).
    """
    if scope.everything:
        return true()
    own = _by_own_right(scope, _INSTANCES)
    if not own:
        return false()
    roots = _INSTANCES.alias("scope_roots")
    visible = select(roots.c.id).where(or_(*_by_own_right(scope, roots))).cte("in_scope", recursive=True)
    children = _INSTANCES.alias("scope_children")
    visible = visible.union_all(select(children.c.id).where(children.c.parent_id == visible.c.id))
    inherited = and_(_INSTANCES.c.parent_id.is_not(None), _INSTANCES.c.parent_id.in_(select(visible.c.id)))
    return or_(*own, inherited)


def _by_own_right(scope: InstanceScope, table: Any) -> list[ColumnElement[bool]]:
    """Rows of ``table`` (``workflow_instance`` or an alias) in ``scope`` by their own right, one condition per kind."""
    columns = table.c
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
    return alternatives
