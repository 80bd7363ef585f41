"""Reads: listings, pages with totals (past the end too), filters, due timers."""

from __future__ import annotations

from datetime import timedelta

from litestar_workflows import WorkflowPersistence
from litestar_workflows.core.models import WorkflowInstanceData
from litestar_workflows.core.types import TaskStatus, WorkflowStatus
from litestar_workflows.engine.persistence import InstanceChange, InstanceQuery, TaskQuery
from tests.contract.kit import NOW, advanced, completion, create, execution, finished, instance, stored, task


async def _three_kinds(store: WorkflowPersistence) -> tuple[WorkflowInstanceData, ...]:
    """A waiting instance (an open task), a completed one, and one with a timer due in an hour."""
    waiting = instance("lists_waiting", status=WorkflowStatus.WAITING, started_at=NOW)
    await create(store, waiting, opened_tasks=[task(waiting)])
    done = await create(store, instance("lists_done", started_at=NOW + timedelta(seconds=1)))
    await store.commit(InstanceChange(finished(done), 0, executions=[execution("a")]))
    timed = await create(
        store, instance("lists_timer", started_at=NOW + timedelta(seconds=2), due=NOW + timedelta(hours=1))
    )
    return waiting, done, timed


async def test_listings_in_creation_order(store: WorkflowPersistence) -> None:
    waiting, done, timed = await _three_kinds(store)
    assert [i.id for i in await store.list_instances()] == [waiting.id, done.id, timed.id]
    assert [i.id for i in await store.list_instances(workflow_name="lists_done")] == [done.id]
    assert [i.id for i in await store.list_instances(status=WorkflowStatus.WAITING)] == [waiting.id]
    assert [(t.instance_id, t.status) for t in await store.list_tasks(status=TaskStatus.OPEN)] == [
        (waiting.id, TaskStatus.OPEN)
    ]
    assert await store.list_tasks(status=TaskStatus.COMPLETED) == []
    assert await store.list_tasks(instance_id=done.id) == []
    assert [e.step_name for e in (await stored(store, done.id)).context.step_history] == ["a"]


async def test_due_timers(store: WorkflowPersistence) -> None:
    _, _, timed = await _three_kinds(store)
    assert await store.list_due_timers(NOW) == []
    assert await store.list_due_timers(NOW + timedelta(hours=2)) == [(timed.id, "t1", NOW + timedelta(hours=1))]
    await store.commit(InstanceChange(finished(timed), 0))
    assert await store.list_due_timers(NOW + timedelta(hours=2)) == []


async def test_instance_pages_are_newest_first_with_totals(store: WorkflowPersistence) -> None:
    started = [
        await create(
            store, instance("paged", started_at=NOW + timedelta(minutes=n), started_by="ann" if n % 2 else None)
        )
        for n in range(5)
    ]
    newest_first = [state.id for state in reversed(started)]
    page, total = await store.query_instances(InstanceQuery(workflow_name="paged", limit=2, offset=1))
    assert ([i.id for i in page], total) == (newest_first[1:3], 5)
    assert all(i.context.step_history == [] for i in page)
    page, total = await store.query_instances(InstanceQuery(workflow_name="paged", limit=2, offset=10))
    assert (page, total) == ([], 5)  # past the end: still the total
    page, total = await store.query_instances(InstanceQuery(workflow_name="nothing", offset=5))
    assert (page, total) == ([], 0)
    page, total = await store.query_instances(InstanceQuery(started_by="ann"))
    assert ({i.id for i in page}, total) == ({started[1].id, started[3].id}, 2)
    page, total = await store.query_instances(InstanceQuery(started_by=None))
    assert total == 3
    window = InstanceQuery(started_after=NOW + timedelta(minutes=1), started_before=NOW + timedelta(minutes=4))
    page, total = await store.query_instances(window)
    assert ([i.id for i in page], total) == ([started[3].id, started[2].id], 2)
    await store.commit(InstanceChange(finished(started[0]), 0))
    page, total = await store.query_instances(InstanceQuery(status=WorkflowStatus.COMPLETED))
    assert ([i.id for i in page], total) == ([started[0].id], 1)


async def test_task_pages_are_oldest_first_with_filters_and_totals(store: WorkflowPersistence) -> None:
    owner = instance("offered")
    offered = [
        task(owner, step=f"review{n}", groups=["finance", "legal"], created_at=NOW + timedelta(minutes=n))
        for n in range(5)
    ]
    assigned = task(owner, step="assigned", assignee="dave", created_at=NOW + timedelta(minutes=9))
    await create(store, owner, opened_tasks=[*offered, assigned])
    other = instance("elsewhere")
    await create(store, other, opened_tasks=[task(other, groups=["legal_x"])])

    page, total = await store.query_tasks(TaskQuery(status=TaskStatus.OPEN, candidate_group="legal", limit=2, offset=1))
    assert ([t.id for t in page], total) == ([offered[1].id, offered[2].id], 5)
    page, total = await store.query_tasks(TaskQuery(candidate_group="legal", offset=7))
    assert (page, total) == ([], 5)
    page, total = await store.query_tasks(TaskQuery(assignee="dave"))
    assert ([t.id for t in page], total) == ([assigned.id], 1)
    page, total = await store.query_tasks(TaskQuery(workflow_name="elsewhere"))
    assert total == 1 and page[0].candidate_groups == ["legal_x"]
    page, total = await store.query_tasks(TaskQuery(instance_id=owner.id, limit=100))
    assert total == 6
    mine, _ = await store.query_tasks(TaskQuery(visible_to=("carol", frozenset({"finance"}))))
    theirs, _ = await store.query_tasks(TaskQuery(visible_to=("mallory", frozenset({"sales"}))))
    assert [t.id for t in mine] == [t.id for t in offered] and theirs == []

    await store.commit(InstanceChange(advanced(owner), 0, closed_tasks=[completion(offered[0].id)]))
    page, total = await store.query_tasks(TaskQuery(status=TaskStatus.COMPLETED))
    assert ([t.id for t in page], total) == ([offered[0].id], 1)
    page, total = await store.query_tasks(TaskQuery(status=TaskStatus.OPEN, candidate_group="finance"))
    assert total == 4
