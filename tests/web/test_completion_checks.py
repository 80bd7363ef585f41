"""Completing, claiming and releasing over HTTP are decided by the commit, against the task as stored.

Races run for real: the requests go concurrently to the app on its own loop (``concurrently``),
in memory and on SQL (SQLite and PostgreSQL), and every trial must end in one consistent
outcome. Each race has a deterministic companion that forces the interleaving the race can only
hit by chance: a persistence method wrapped so that the other request's write lands after the
completion (or claim) read the task and before it commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast
from uuid import UUID

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from litestar_workflows import TaskStatus, WorkflowPlugin, WorkflowStatus
from litestar_workflows.engine.persistence import InstanceChange
from tests.web.conftest import ADMIN, ALICE, BOB, CAROL, AppFactory, Client, as_user, in_app, open_task, start
from tests.web.test_claims_race import concurrently

TRIALS = 20
BOBBY = as_user("bobby", "managers")


@pytest.fixture
async def sql_client(make_app: AppFactory, database_url: str) -> AsyncIterator[Client]:
    """A client of an app on SQL persistence (a SQLite file, or PostgreSQL)."""
    async with AsyncTestClient(make_app(persistence=None, database_url=database_url)) as client:
        client.headers.update(ALICE)
        yield client


def _app(client: Client) -> Litestar:
    return cast("Litestar", client.app)


def _plugin(client: Client) -> WorkflowPlugin:
    return _app(client).plugins.get(WorkflowPlugin)


async def _task_of_bob(client: Client) -> tuple[str, str]:
    """(instance id, task id) of a task assigned to bob."""
    instance = await start(client, "assigned", {"owner": "bob"})
    task = await open_task(client, _plugin(client), instance["id"])
    return instance["id"], task["id"]


async def _stored(client: Client, task_id: str) -> dict[str, Any]:
    response = await client.get(f"/workflows/tasks/{task_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


async def _instance_status(client: Client, instance_id: str) -> str:
    status: str = (await client.get(f"/workflows/instances/{instance_id}")).json()["status"]
    return status


def _post(client: Client, url: str, body: dict[str, Any] | None, headers: dict[str, str]) -> Awaitable[httpx.Response]:
    """POST on the app's loop, from inside the app (a request made while another one is handled)."""
    transport = httpx.ASGITransport(app=cast("Any", _app(client)))

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as direct:
            return await direct.post(url, json=body, headers=headers)

    return send()


def _before_commit_of(
    client: Client, monkeypatch: pytest.MonkeyPatch, task_id: str, action: Callable[[], Awaitable[httpx.Response]]
) -> list[httpx.Response]:
    """Run ``action`` once, right before the commit that closes ``task_id`` (after the completion read it)."""
    persistence_type = type(_plugin(client).persistence)
    original = persistence_type.commit
    responses: list[httpx.Response] = []

    async def commit(self: Any, change: InstanceChange) -> bool:
        if not responses and any(str(closure.task_id) == task_id for closure in change.closed_tasks):
            responses.append(await action())
        return await original(self, change)

    monkeypatch.setattr(persistence_type, "commit", commit)
    return responses


# --- a completion racing a reassignment -----------------------------------------------------------


async def _reassign_race(client: Client) -> None:
    for _ in range(TRIALS):  # each trial ends in one of two consistent outcomes, whichever request wins
        instance_id, task_id = await _task_of_bob(client)
        base = f"/workflows/tasks/{task_id}"
        completed, reassigned = concurrently(
            client,
            _app(client),
            [(f"{base}/complete", {}, BOB), (f"{base}/reassign", {"assignee": "carol"}, ADMIN)],
        )
        task = await _stored(client, task_id)
        if completed.status_code == 200:  # the completion won: the reassignment came too late
            assert reassigned.status_code == 409, reassigned.text
            assert "already completed" in reassigned.json()["detail"]
            assert (task["status"], task["assignee"], task["completed_by"]) == ("completed", "bob", "bob")
            assert completed.json()["completed_by"] == "bob"
        else:  # the reassignment won: bob may no longer act on the task
            assert reassigned.status_code == 200, reassigned.text
            assert completed.status_code == 403, completed.text
            assert (task["status"], task["assignee"], task["completed_by"]) == ("open", "carol", None)
            assert await _instance_status(client, instance_id) == WorkflowStatus.WAITING.value


async def test_completion_racing_a_reassignment_in_memory_is_consistent(client: Client) -> None:
    await _reassign_race(client)


async def test_completion_racing_a_reassignment_on_sql_is_consistent(sql_client: Client) -> None:
    await _reassign_race(sql_client)


async def _reassigned_before_the_commit(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    instance_id, task_id = await _task_of_bob(client)
    base = f"/workflows/tasks/{task_id}"
    reassigned = _before_commit_of(
        client, monkeypatch, task_id, lambda: _post(client, f"{base}/reassign", {"assignee": "carol"}, ADMIN)
    )
    completed = await client.post(f"{base}/complete", json={}, headers=BOB)
    assert [response.status_code for response in reassigned] == [200]
    assert completed.status_code == 403, completed.text
    assert completed.json() == {"status_code": 403, "detail": f"user 'bob' may not act on task {task_id}"}
    task = await _stored(client, task_id)
    assert (task["status"], task["assignee"], task["claimed_by"], task["completed_by"]) == ("open", "carol", None, None)
    assert await _instance_status(client, instance_id) == WorkflowStatus.WAITING.value
    done = await client.post(f"{base}/complete", json={}, headers=CAROL)
    assert (done.status_code, done.json()["completed_by"]) == (200, "carol")


async def test_a_reassignment_landing_before_the_commit_wins_in_memory(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _reassigned_before_the_commit(client, monkeypatch)


async def test_a_reassignment_landing_before_the_commit_wins_on_sql(
    sql_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _reassigned_before_the_commit(sql_client, monkeypatch)


# --- a completion racing an admin's take-over of the claim ------------------------------------------


async def _take_over_race(client: Client) -> None:
    for _ in range(TRIALS):
        _, task_id = await _task_of_bob(client)
        base = f"/workflows/tasks/{task_id}"
        completed, claimed = concurrently(
            client, _app(client), [(f"{base}/complete", {}, BOB), (f"{base}/claim", None, ADMIN)]
        )
        task = await _stored(client, task_id)
        if completed.status_code == 200:
            assert claimed.status_code == 409, claimed.text
            assert (task["status"], task["completed_by"], task["claimed_by"]) == ("completed", "bob", "bob")
        else:
            assert claimed.status_code == 200, claimed.text
            assert completed.status_code == 409, completed.text
            assert completed.json()["extra"] == {"claimed_by": "root"}
            assert (task["status"], task["completed_by"], task["claimed_by"]) == ("open", None, "root")


async def test_completion_racing_a_claim_take_over_in_memory_is_consistent(client: Client) -> None:
    await _take_over_race(client)


async def test_completion_racing_a_claim_take_over_on_sql_is_consistent(sql_client: Client) -> None:
    await _take_over_race(sql_client)


async def _claimed_before_the_commit(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    _, task_id = await _task_of_bob(client)
    base = f"/workflows/tasks/{task_id}"
    claimed = _before_commit_of(client, monkeypatch, task_id, lambda: _post(client, f"{base}/claim", None, ADMIN))
    completed = await client.post(f"{base}/complete", json={}, headers=BOB)
    assert [response.status_code for response in claimed] == [200]
    assert completed.status_code == 409, completed.text
    assert completed.json()["extra"] == {"claimed_by": "root"}
    task = await _stored(client, task_id)
    assert (task["status"], task["claimed_by"], task["completed_by"]) == ("open", "root", None)


async def test_a_claim_taken_over_before_the_commit_wins_in_memory(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _claimed_before_the_commit(client, monkeypatch)


async def test_a_claim_taken_over_before_the_commit_wins_on_sql(
    sql_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _claimed_before_the_commit(sql_client, monkeypatch)


# --- a claim racing a reassignment ----------------------------------------------------------------


async def _reassigned_before_the_claim(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """The task is offered to the managers; an admin hands it to carol just before bob's claim writes."""
    instance = await start(client, "approval", {"amount": 10})
    task_id = (await open_task(client, _plugin(client), instance["id"]))["id"]
    persistence_type = type(_plugin(client).persistence)
    original = persistence_type.update_open_task
    reassigned: list[httpx.Response] = []

    async def update_open_task(self: Any, task: UUID, **changes: Any) -> Any:
        if changes.get("claimed_by") == "bob" and not reassigned:
            reassigned.append(await _post(client, f"/workflows/tasks/{task_id}/reassign", {"assignee": "carol"}, ADMIN))
        return await original(self, task, **changes)

    monkeypatch.setattr(persistence_type, "update_open_task", update_open_task)
    claimed = await client.post(f"/workflows/tasks/{task_id}/claim", headers=BOB)
    assert [response.status_code for response in reassigned] == [200]
    assert claimed.status_code == 403, claimed.text
    assert "carol" not in claimed.text
    stored = await _stored(client, task_id)
    assert (stored["assignee"], stored["claimed_by"]) == ("carol", None)
    done = await client.post(f"/workflows/tasks/{task_id}/complete", json={"approved": True}, headers=CAROL)
    assert done.status_code == 200, done.text  # not blocked by a claim bob should never have got


async def test_a_claim_after_a_reassignment_is_refused_in_memory(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _reassigned_before_the_claim(client, monkeypatch)


async def test_a_claim_after_a_reassignment_is_refused_on_sql(
    sql_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _reassigned_before_the_claim(sql_client, monkeypatch)


# --- release reveals nothing to outsiders ---------------------------------------------------------


async def test_release_by_someone_who_may_not_act_reveals_nothing(client: Client) -> None:
    instance = await start(client, "approval", {"amount": 10})
    task_id = (await open_task(client, _plugin(client), instance["id"]))["id"]
    url = f"/workflows/tasks/{task_id}/release"
    expected = {"status_code": 403, "detail": f"user 'carol' may not act on task {task_id}"}
    unclaimed = await client.post(url, headers=CAROL)  # carol is not a manager
    assert unclaimed.json() == expected
    assert (await client.post(f"/workflows/tasks/{task_id}/claim", headers=BOB)).status_code == 200
    claimed = await client.post(url, headers=CAROL)
    assert claimed.json() == expected  # no task data, and not who holds the claim
    assert (await _stored(client, task_id))["claimed_by"] == "bob"
    released = await client.post(url, headers=BOB)
    assert (released.status_code, released.json()["claimed_by"]) == (200, None)
    assert (await _stored(client, task_id))["claimed_by"] is None


# --- one read of the task per completion ----------------------------------------------------------


async def _count_task_access(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    _, task_id = await _task_of_bob(client)
    persistence_type = type(_plugin(client).persistence)
    calls: list[str] = []
    names = ("get_task", "load_instance", "load_task_with_instance", "list_tasks", "query_tasks", "update_open_task")
    for name in names:
        original = getattr(persistence_type, name)

        def counted(original: Any = original, name: str = name) -> Any:
            async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
                calls.append(name)
                return await original(self, *args, **kwargs)

            return call

        monkeypatch.setattr(persistence_type, name, counted())
    completed = await client.post(f"/workflows/tasks/{task_id}/complete", json={}, headers=BOB)
    assert completed.status_code == 200, completed.text
    body = completed.json()
    assert (body["status"], body["completed_by"], body["claimed_by"], body["data"]) == (
        "completed",
        "bob",
        "bob",
        {},
    )
    # One read (the task with its instance), no claim transaction, no read after the commit.
    assert calls == ["load_task_with_instance"]
    stored = in_app(client, _plugin(client).persistence.get_task, UUID(task_id))
    assert stored is not None and stored.status is TaskStatus.COMPLETED
    assert (stored.completed_by, stored.claimed_by, stored.data) == ("bob", "bob", {})
    assert body["completed_at"] is not None


async def test_a_completion_reads_the_task_once_in_memory(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    await _count_task_access(client, monkeypatch)


async def test_a_completion_reads_the_task_once_on_sql(sql_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    await _count_task_access(sql_client, monkeypatch)


async def test_completion_by_a_manager_while_another_holds_the_claim_is_409_then_works_after_release(
    client: Client,
) -> None:
    instance = await start(client, "approval", {"amount": 10})
    task_id = (await open_task(client, _plugin(client), instance["id"]))["id"]
    await client.post(f"/workflows/tasks/{task_id}/claim", headers=BOB)
    blocked = await client.post(f"/workflows/tasks/{task_id}/complete", json={"approved": True}, headers=BOBBY)
    assert (blocked.status_code, blocked.json()["extra"]) == (409, {"claimed_by": "bob"})
    release = await client.post(f"/workflows/tasks/{task_id}/release", headers=BOBBY)
    assert (release.status_code, release.json()["detail"]) == (
        403,
        f"task {task_id} is claimed by 'bob', not by 'bobby'",
    )
    await client.post(f"/workflows/tasks/{task_id}/release", headers=BOB)
    done = await client.post(f"/workflows/tasks/{task_id}/complete", json={"approved": True}, headers=BOBBY)
    assert (done.status_code, done.json()["completed_by"], done.json()["claimed_by"]) == (200, "bobby", "bobby")
