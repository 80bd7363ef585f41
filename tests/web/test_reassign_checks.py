"""An assignee's reassignment is checked in the update, against the task as stored.

Bob, the assignee, hands his task to dave while an admin hands it to carol. Before, bob's update
was checked only against the task as read before it: when the admin's change landed in between,
bob's overwrote it (the task went to dave although bob no longer held it). Raced for real, in
memory and on SQLite and PostgreSQL, with a deterministic companion forcing the interleaving.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest

from tests.web.conftest import ADMIN, BOB, Client
from tests.web.test_claims_race import concurrently
from tests.web.test_completion_checks import TRIALS, _app, _plugin, _post, _stored, _task_of_bob, sql_client

__all__ = ("sql_client",)  # the fixture, imported so that pytest finds it here


async def _admin_reassigns_first(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    _, task_id = await _task_of_bob(client)
    url = f"/workflows/tasks/{task_id}/reassign"
    persistence_type = type(_plugin(client).persistence)
    original = persistence_type.update_open_task
    by_admin: list[httpx.Response] = []

    async def update_open_task(self: Any, task: UUID, **changes: Any) -> Any:
        if changes.get("assignee") == "dave" and not by_admin:  # bob's update, after his read of the task
            by_admin.append(await _post(client, url, {"assignee": "carol"}, ADMIN))
        return await original(self, task, **changes)

    monkeypatch.setattr(persistence_type, "update_open_task", update_open_task)
    handed = await client.post(url, json={"assignee": "dave"}, headers=BOB)
    assert [response.status_code for response in by_admin] == [200]
    assert handed.json() == {"status_code": 403, "detail": f"user 'bob' may not act on task {task_id}"}
    assert (await _stored(client, task_id))["assignee"] == "carol"


async def test_an_admins_reassignment_landing_first_wins_in_memory(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _admin_reassigns_first(client, monkeypatch)


async def test_an_admins_reassignment_landing_first_wins_on_sql(
    sql_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _admin_reassigns_first(sql_client, monkeypatch)


async def _reassignment_race(client: Client) -> None:
    for _ in range(TRIALS):  # whichever lands first, the admin's choice stands
        _, task_id = await _task_of_bob(client)
        url = f"/workflows/tasks/{task_id}/reassign"
        by_bob, by_admin = concurrently(
            client, _app(client), [(url, {"assignee": "dave"}, BOB), (url, {"assignee": "carol"}, ADMIN)]
        )
        assert by_admin.status_code == 200, by_admin.text
        assert by_bob.status_code in {200, 403}, by_bob.text
        assert (await _stored(client, task_id))["assignee"] == "carol"


async def test_reassignments_racing_in_memory_leave_the_admins_choice(client: Client) -> None:
    await _reassignment_race(client)


async def test_reassignments_racing_on_sql_leave_the_admins_choice(sql_client: Client) -> None:
    await _reassignment_race(sql_client)


async def test_an_assignee_cannot_reassign_a_task_an_admin_holds(client: Client) -> None:
    _, task_id = await _task_of_bob(client)
    assert (await client.post(f"/workflows/tasks/{task_id}/claim", headers=ADMIN)).status_code == 200
    refused = await client.post(f"/workflows/tasks/{task_id}/reassign", json={"assignee": "dave"}, headers=BOB)
    assert (refused.status_code, refused.json()["extra"]) == (409, {"claimed_by": "root"})
    stored = await _stored(client, task_id)
    assert (stored["assignee"], stored["claimed_by"]) == ("bob", "root")
