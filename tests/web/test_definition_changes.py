"""An instance whose definition is no longer registered (or lost its step) answers 409 with a hint, never 500."""

from __future__ import annotations

from litestar_workflows import BaseHumanStep, WorkflowPlugin
from tests.helpers import SetStep, chain
from tests.web.conftest import APPROVAL_FORM, BOB, Client, open_task, start


async def test_completing_a_task_of_an_unregistered_version_is_a_conflict_with_a_hint(
    client: Client, plugin: WorkflowPlugin
) -> None:
    instance = await start(client, "approval")
    task = await open_task(client, plugin, instance["id"])
    plugin.registry.unregister("approval", "1")

    response = await client.post(f"/workflows/tasks/{task['id']}/complete", json={"approved": True}, headers=BOB)

    assert response.status_code == 409, response.text
    assert response.json()["detail"] == (
        f"instance {instance['id']} runs version '1' of 'approval', which this app no longer registers; "
        "register it again to finish its instances"
    )
    detail = await client.get(f"/workflows/instances/{instance['id']}")
    assert detail.status_code == 200  # still readable, and unchanged
    assert detail.json()["status"] == "waiting"
    assert [t["status"] for t in detail.json()["open_tasks"]] == ["open"]


async def test_completing_a_task_whose_step_was_renamed_is_a_conflict_with_a_hint(
    client: Client, plugin: WorkflowPlugin
) -> None:
    instance = await start(client, "approval")
    task = await open_task(client, plugin, instance["id"])
    renamed = chain(
        "approval",
        [
            SetStep("submit", "submitted", True),
            BaseHumanStep("manager_approval", form_schema=APPROVAL_FORM, candidate_groups=["managers"]),
            SetStep("done", "finished", True),
        ],
    )
    plugin.registry.register_definition(renamed, replace=True)  # the same version, a step renamed

    response = await client.post(f"/workflows/tasks/{task['id']}/complete", json={"approved": True}, headers=BOB)

    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert detail.startswith(
        f"instance {instance['id']} is at step 'approve', which version '1' of 'approval' no longer has"
    )
    assert "new version" in detail
    after = (await client.get(f"/workflows/instances/{instance['id']}")).json()
    assert (after["status"], after["active_steps"]) == ("waiting", ["approve"])
