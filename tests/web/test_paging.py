"""A page past the end of a list is empty but still reports how many items match, on every persistence."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from litestar_workflows import WorkflowPlugin
from tests.web.conftest import ALICE, BOB, AppFactory, Client, settle, start


async def _pages_past_the_end(client: Client, plugin: WorkflowPlugin) -> None:
    for _ in range(3):
        started = await start(client, "approval")
        await settle(client, plugin, started["id"])

    past = (await client.get("/workflows/instances", params={"limit": 2, "offset": 10})).json()
    assert past == {"items": [], "total": 3, "limit": 2, "offset": 10}
    just_past = (await client.get("/workflows/instances", params={"workflow": "approval", "offset": 3})).json()
    assert (just_past["items"], just_past["total"]) == ([], 3)
    last = (await client.get("/workflows/instances", params={"offset": 2})).json()
    assert (len(last["items"]), last["total"]) == (1, 3)
    nothing = (await client.get("/workflows/instances", params={"workflow": "auto", "offset": 5})).json()
    assert (nothing["items"], nothing["total"]) == ([], 0)

    tasks = (await client.get("/workflows/tasks", params={"limit": 1, "offset": 7}, headers=BOB)).json()
    assert tasks == {"items": [], "total": 3, "limit": 1, "offset": 7}
    open_past = (await client.get("/workflows/tasks", params={"status": "open", "offset": 3}, headers=BOB)).json()
    assert (open_past["items"], open_past["total"]) == ([], 3)
    done_past = (await client.get("/workflows/tasks", params={"status": "completed", "offset": 1}, headers=BOB)).json()
    assert (done_past["items"], done_past["total"]) == ([], 0)


async def test_a_page_past_the_end_reports_the_total_in_memory(client: Client, plugin: WorkflowPlugin) -> None:
    await _pages_past_the_end(client, plugin)


async def test_a_page_past_the_end_reports_the_total_on_sql(make_app: AppFactory, database_url: str) -> None:
    app = make_app(persistence=None, database_url=database_url)
    async with AsyncTestClient(app) as client:
        client.headers.update(ALICE)
        await _pages_past_the_end(client, app.plugins.get(WorkflowPlugin))
