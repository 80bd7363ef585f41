"""Visibility filters are the Python rules: random instances, tasks and callers, same answers everywhere.

``core.access.instance_in_scope`` decides whether a caller may open an instance, and
``core.identity.can_act_on`` whether a user may act on a task; listings evaluate the same rules
in SQL (``db.filters``: the task condition, and for instances an EXISTS over their tasks with it)
and in memory. For random instances (starters, workflows, tasks open and done, assigned or
offered to groups whose names hold LIKE wildcards, children of earlier instances, children of
children) and random scopes and users, every persistence must list exactly what the Python rule
admits, with the same total and the same pages.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litestar_workflows import InMemoryPersistence, WorkflowContext
from litestar_workflows.core.access import InstanceScope, instance_in_scope
from litestar_workflows.core.identity import Identity, can_act_on
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData
from litestar_workflows.core.types import TaskStatus, WorkflowStatus
from litestar_workflows.db import SQLAlchemyPersistence
from litestar_workflows.engine.persistence import (
    InstanceChange,
    InstanceQuery,
    TaskQuery,
    WorkflowPersistence,
    task_visible_to,
)
from litestar_workflows.policy import WorkflowPolicy
from tests.contract.kit import Backend

USERS = ["alice", "bob"]
GROUPS = ["managers", "x_y", "x%y", "xay", "admin"]  # "_" and "%" are LIKE wildcards: "xay" must not match them
CALLER_GROUPS = [*GROUPS, "managers,admin", "x_y,xay"]
"""A caller's groups may hold commas (a directory's "CN=a,OU=b"); a task's never do (refused at registration).
Tasks store their groups comma-joined (",managers,admin,"): such a name must not match two of them."""
WORKFLOWS = ["expense", "leave"]


@dataclass
class TaskSpec:
    assignee: str | None
    groups: list[str]
    done: bool


@dataclass
class InstanceSpec:
    workflow: str
    started_by: str | None
    tasks: list[TaskSpec]
    parent: int | None = None
    """A sub-workflow instance of this earlier instance (by position; a later or own one: no parent)."""


tasks = st.builds(
    TaskSpec,
    assignee=st.one_of(st.none(), st.sampled_from(USERS)),
    groups=st.lists(st.sampled_from(GROUPS), max_size=2, unique=True),
    done=st.booleans(),
)
instances = st.lists(
    st.builds(
        InstanceSpec,
        workflow=st.sampled_from(WORKFLOWS),
        started_by=st.one_of(st.none(), st.sampled_from(USERS)),
        tasks=st.lists(tasks, max_size=3),
        parent=st.one_of(st.none(), st.integers(0, 7)),
    ),
    max_size=8,
)
identities = st.builds(
    Identity,
    user_id=st.one_of(st.none(), st.sampled_from(USERS)),
    groups=st.frozensets(st.sampled_from(CALLER_GROUPS), max_size=2),
)
scopes = st.one_of(
    identities.map(WorkflowPolicy("admin").instance_scope),  # what the default policy asks for
    st.builds(
        InstanceScope,
        everything=st.booleans(),
        started_by=st.frozensets(st.sampled_from(USERS), max_size=2),
        started_anonymously=st.booleans(),
        task_actor=st.one_of(st.none(), identities),
        workflows=st.frozensets(st.sampled_from(WORKFLOWS), max_size=1),
    ),
)

_windows = itertools.count()


def _build(specs: list[InstanceSpec], base: datetime) -> list[tuple[WorkflowInstanceData, list[HumanTaskData]]]:
    built: list[tuple[WorkflowInstanceData, list[HumanTaskData]]] = []
    for number, spec in enumerate(specs):
        instance_id = uuid4()
        parent = built[spec.parent][0].id if spec.parent is not None and spec.parent < number else None
        started = base + timedelta(seconds=number)
        context = WorkflowContext(instance_id, instance_id, {}, {}, "review", [], started)
        instance = WorkflowInstanceData(
            id=instance_id,
            workflow_name=spec.workflow,
            workflow_version="1",
            status=WorkflowStatus.WAITING,
            context=context,
            current_step="review",
            started_at=started,
            started_by=spec.started_by,
            parent_id=parent,
        )
        opened = [
            HumanTaskData(
                id=uuid4(),
                instance_id=instance_id,
                workflow_name=spec.workflow,
                step_name=f"review{index}",
                token_id=f"t{index}",
                title="Review",
                assignee=task.assignee,
                candidate_groups=task.groups,
                status=TaskStatus.COMPLETED if task.done else TaskStatus.OPEN,
                created_at=started,
            )
            for index, task in enumerate(spec.tasks)
        ]
        built.append((instance, opened))
    return built


def _ancestors(
    built: list[tuple[WorkflowInstanceData, list[HumanTaskData]]], instance: WorkflowInstanceData
) -> list[tuple[WorkflowInstanceData, list[HumanTaskData]]]:
    by_id = {candidate.id: (candidate, opened) for candidate, opened in built}
    chain = []
    while instance.parent_id is not None:
        instance, opened = by_id[instance.parent_id]
        chain.append((instance, opened))
    return chain


async def _listing(
    persistence: WorkflowPersistence, scope: InstanceScope, base: datetime, limit: int, offset: int
) -> tuple[list[UUID], int]:
    # Earlier examples left their instances in the database: the time window keeps this example's.
    query = InstanceQuery(
        started_after=base - timedelta(seconds=1),
        started_before=base + timedelta(hours=1),
        scope=scope,
        limit=limit,
        offset=offset,
    )
    page, total = await persistence.query_instances(query)
    return [instance.id for instance in page], total


async def _check(
    persistence: WorkflowPersistence, specs: list[InstanceSpec], scope: InstanceScope, limit: int, offset: int
) -> None:
    base = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=next(_windows))
    built = _build(specs, base)
    for instance, opened in built:
        await persistence.commit(InstanceChange(instance, expected_revision=-1, opened_tasks=opened))
    visible = [
        instance.id
        for instance, opened in reversed(built)
        if instance_in_scope(scope, instance, opened, _ancestors(built, instance))
    ]
    assert await _listing(persistence, scope, base, 500, 0) == (visible, len(visible))
    assert await _listing(persistence, scope, base, limit, offset) == (visible[offset : offset + limit], len(visible))


EXAMPLES = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


async def _check_tasks(
    persistence: WorkflowPersistence, specs: list[InstanceSpec], user: Identity, limit: int, offset: int
) -> None:
    base = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=next(_windows))
    workflow = f"w{base.toordinal()}"  # this example's tasks only: earlier ones stay in the database
    built = _build([InstanceSpec(workflow, spec.started_by, spec.tasks) for spec in specs], base)
    for instance, opened in built:
        await persistence.commit(InstanceChange(instance, expected_revision=-1, opened_tasks=opened))
    assert user.user_id is not None
    tasks = sorted((task for _, opened in built for task in opened), key=lambda task: (task.created_at, task.id))
    visible = [task.id for task in tasks if task_visible_to(task, user.user_id, user.groups)]  # the listing's order
    query = TaskQuery(workflow_name=workflow, visible_to=(user.user_id, user.groups), limit=500)
    page, total = await persistence.query_tasks(query)
    assert ([task.id for task in page], total) == (visible, len(visible))
    query.limit, query.offset = limit, offset
    page, total = await persistence.query_tasks(query)
    assert ([task.id for task in page], total) == (visible[offset : offset + limit], len(visible))


EXAMPLES = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


def _run(backend: Backend, check: Callable[[WorkflowPersistence], Awaitable[None]]) -> None:
    """Run one example on a fresh persistence object of ``backend`` (examples share a SQL database)."""

    async def run() -> None:
        persistence = backend.another() if backend.is_sql else InMemoryPersistence()
        try:
            await check(persistence)
        finally:
            await persistence.close()

    asyncio.run(run())


@EXAMPLES
@given(specs=instances, scope=scopes, limit=st.integers(1, 4), offset=st.integers(0, 4))
def test_instance_listing_is_the_python_rule(
    database: Backend, specs: list[InstanceSpec], scope: InstanceScope, limit: int, offset: int
) -> None:
    _run(database, lambda persistence: _check(persistence, specs, scope, limit, offset))


@EXAMPLES
@given(
    specs=instances,
    user=st.builds(Identity, user_id=st.sampled_from(USERS), groups=st.frozensets(st.sampled_from(GROUPS), max_size=2)),
    limit=st.integers(1, 4),
    offset=st.integers(0, 4),
)
def test_task_listing_is_the_python_rule(
    database: Backend, specs: list[InstanceSpec], user: Identity, limit: int, offset: int
) -> None:
    _run(database, lambda persistence: _check_tasks(persistence, specs, user, limit, offset))


@pytest.mark.parametrize(
    ("offered_to", "groups", "visible"),
    [("x_y", {"x_y"}, True), ("x_y", {"x%y"}, False), ("xay", {"x_y"}, False), ("x_y", {"managers", "xay"}, False)],
)
def test_group_names_with_like_wildcards_match_only_themselves(
    database: Backend, offered_to: str, groups: set[str], visible: bool
) -> None:
    # Pinned examples of the property: in SQL, "_" and "%" in a group name are not wildcards.
    specs = [InstanceSpec("expense", "alice", [TaskSpec(None, [offered_to], done=True)])]
    scope = InstanceScope(task_actor=Identity("bob", frozenset(groups)))
    found: list[UUID] = []

    async def check(persistence: WorkflowPersistence) -> None:
        base = datetime(2019, 1, 1, tzinfo=UTC)
        [(instance, opened)] = _build(specs, base)
        await persistence.commit(InstanceChange(instance, expected_revision=-1, opened_tasks=opened))
        found.extend((await _listing(persistence, scope, base, 10, 0))[0])
        tasks, _ = await persistence.query_tasks(TaskQuery(visible_to=("bob", frozenset(groups))))
        assert bool(tasks) is visible

    _run(database, check)
    assert bool(found) is visible


def test_a_callers_group_holding_a_comma_matches_no_two_candidate_groups(database_url: str) -> None:
    # A task offered to "managers" and "admin": a caller in the one group "managers,admin" is in neither.
    specs = [InstanceSpec("expense", "alice", [TaskSpec(None, ["managers", "admin"], done=False)])]
    caller = Identity("bob", frozenset({"managers,admin"}))

    async def run() -> tuple[list[UUID], int, int]:
        persistence = SQLAlchemyPersistence(url=database_url, create_all=True)
        try:
            base = datetime(2019, 6, 1, tzinfo=UTC)
            [(instance, opened)] = _build(specs, base)
            await persistence.commit(InstanceChange(instance, expected_revision=-1, opened_tasks=opened))
            listed = (await _listing(persistence, InstanceScope(task_actor=caller), base, 10, 0))[0]
            _, visible_tasks = await persistence.query_tasks(TaskQuery(visible_to=("bob", caller.groups)))
            _, offered = await persistence.query_tasks(TaskQuery(candidate_group="managers,admin"))
            return listed, visible_tasks, offered
        finally:
            await persistence.close()

    assert not can_act_on(_build(specs, datetime(2019, 6, 1, tzinfo=UTC))[0][1][0], caller, None)
    assert asyncio.run(run()) == ([], 0, 0)  # the instance, the caller's tasks, the tasks offered to that "group"
