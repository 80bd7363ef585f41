"""The REST history shows where a failed attempt failed (its traceback), to admins only by default.

A traceback shows the app's code (file paths, lines): the starter and the task actors of an
instance see each failed attempt's error message, admins (or whoever the policy names) the
traceback too, on every persistence.
"""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from litestar_workflows import WorkflowPlugin
from litestar_workflows.policy import WorkflowPolicy
from tests.web.conftest import ADMIN, ALICE, AppFactory, Client, Flaky, settle, start


async def _history(client: Client, instance_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(f"/workflows/instances/{instance_id}", headers=headers)
    assert response.status_code == 200, response.text
    history: list[dict[str, Any]] = response.json()["history"]
    return history


async def _failed_history(client: Client, plugin: WorkflowPlugin) -> None:
    Flaky.fixed = False
    started = await start(client, "flaky", headers=ALICE)
    await settle(client, plugin, started["id"])

    [record] = await _history(client, started["id"], ADMIN)
    assert (record["step"], record["status"]) == ("flaky", "failed")
    assert record["error"] == "RuntimeError: downstream unavailable"
    traceback = record["traceback"]
    assert traceback.startswith("Traceback (most recent call last):")
    assert 'conftest.py", line' in traceback and "in execute" in traceback
    assert traceback.rstrip().endswith("RuntimeError: downstream unavailable")
    # The starter sees that and why the step failed, not the app's code.
    [as_starter] = await _history(client, started["id"], ALICE)
    assert (as_starter["error"], as_starter["traceback"]) == ("RuntimeError: downstream unavailable", None)

    Flaky.fixed = True
    try:
        retried = await client.post(f"/workflows/instances/{started['id']}/retry", headers=ADMIN)
        assert retried.status_code == 200, retried.text
        assert retried.json()["history"][0]["traceback"] == traceback  # an admin's answer: with it
        await settle(client, plugin, started["id"])
    finally:
        Flaky.fixed = False
    history = await _history(client, started["id"], ADMIN)
    assert [(r["step"], r["status"], r["traceback"] is None) for r in history] == [
        ("flaky", "failed", False),
        ("flaky", "succeeded", True),
        ("after", "succeeded", True),
    ]


async def test_the_history_shows_the_traceback_to_admins_in_memory(client: Client, plugin: WorkflowPlugin) -> None:
    await _failed_history(client, plugin)


async def test_the_history_shows_the_traceback_to_admins_on_sql(make_app: AppFactory, database_url: str) -> None:
    app = make_app(persistence=None, database_url=database_url)
    async with AsyncTestClient(app) as client:
        await _failed_history(client, app.plugins.get(WorkflowPlugin))


async def test_a_policy_may_show_tracebacks_to_starters(make_app: AppFactory) -> None:
    policy = WorkflowPolicy("admin", view_tracebacks=lambda identity, instance: instance.started_by == identity.user_id)
    app = make_app(admin_role=None, policy=policy)
    async with AsyncTestClient(app) as client:
        Flaky.fixed = False
        started = await start(client, "flaky", headers=ALICE)
        await settle(client, app.plugins.get(WorkflowPlugin), started["id"])
        [record] = await _history(client, started["id"], ALICE)
        assert record["traceback"].rstrip().endswith("RuntimeError: downstream unavailable")
        [as_admin] = await _history(client, started["id"], ADMIN)  # the callable decides alone
        assert (as_admin["error"], as_admin["traceback"]) == ("RuntimeError: downstream unavailable", None)
