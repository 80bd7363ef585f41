"""The REST history shows where a failed attempt failed (its traceback), on every persistence."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from litestar_workflows import WorkflowPlugin
from tests.web.conftest import ADMIN, ALICE, AppFactory, Client, Flaky, settle, start


async def _failed_history(client: Client, plugin: WorkflowPlugin) -> None:
    Flaky.fixed = False
    started = await start(client, "flaky")
    await settle(client, plugin, started["id"])

    detail = (await client.get(f"/workflows/instances/{started['id']}")).json()
    assert detail["status"] == "failed"
    [record] = detail["history"]
    assert (record["step"], record["status"]) == ("flaky", "failed")
    assert record["error"] == "RuntimeError: downstream unavailable"
    traceback = record["traceback"]
    assert traceback.startswith("Traceback (most recent call last):")
    assert 'conftest.py", line' in traceback and "in execute" in traceback
    assert traceback.rstrip().endswith("RuntimeError: downstream unavailable")

    Flaky.fixed = True
    try:
        retried = await client.post(f"/workflows/instances/{started['id']}/retry", headers=ADMIN)
        assert retried.status_code == 200, retried.text
        await settle(client, plugin, started["id"])
    finally:
        Flaky.fixed = False
    history = (await client.get(f"/workflows/instances/{started['id']}")).json()["history"]
    assert [(r["step"], r["status"], r["traceback"] is None) for r in history] == [
        ("flaky", "failed", False),
        ("flaky", "succeeded", True),
        ("after", "succeeded", True),
    ]


async def test_the_history_shows_the_traceback_in_memory(client: Client, plugin: WorkflowPlugin) -> None:
    await _failed_history(client, plugin)


async def test_the_history_shows_the_traceback_on_sql(make_app: AppFactory, database_url: str) -> None:
    app = make_app(persistence=None, database_url=database_url)
    async with AsyncTestClient(app) as client:
        client.headers.update(ALICE)
        await _failed_history(client, app.plugins.get(WorkflowPlugin))
