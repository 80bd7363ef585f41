"""Sub-workflow links as stored: a child knows its parent and the token waiting for it, a parent's
token knows its child, and a parent's children are found by ``list_instances(parent_id=...)``."""

from __future__ import annotations

import msgspec

from litestar_workflows import WorkflowPersistence
from litestar_workflows.core.models import Token
from litestar_workflows.core.types import TokenStatus, WorkflowStatus
from litestar_workflows.engine.persistence import InstanceChange
from tests.contract.kit import NOW, advanced, create, instance, stored


async def test_a_child_created_with_its_parent_keeps_both_links(store: WorkflowPersistence) -> None:
    parent = await create(store, instance("parent"))
    child = msgspec.structs.replace(instance("child"), parent_id=parent.id, parent_token="t1")
    waiting_token = Token("t1", "call", TokenStatus.WAITING, child_id=child.id)
    waiting = advanced(parent, status=WorkflowStatus.WAITING, tokens=[waiting_token])
    change = InstanceChange(waiting, 0, now=NOW, linked=[InstanceChange(child, -1, now=NOW)])
    await store.commit(change)

    loaded_child = await stored(store, child.id)
    assert (loaded_child.parent_id, loaded_child.parent_token) == (parent.id, "t1")
    assert [token.child_id for token in (await stored(store, parent.id)).tokens] == [child.id]
    assert [found.id for found in await store.list_instances(parent_id=parent.id)] == [child.id]
    assert (await stored(store, parent.id)).parent_id is None


async def test_later_changes_keep_the_parent_link(store: WorkflowPersistence) -> None:
    """The link is written once, at the child's creation; a change of the child's state leaves it alone."""
    parent = await create(store, instance("parent"))
    child = await create(store, msgspec.structs.replace(instance("child"), parent_id=parent.id, parent_token="t4"))
    await store.commit(InstanceChange(advanced(child, status=WorkflowStatus.WAITING, tokens=[]), 0, now=NOW))

    again = await stored(store, child.id)
    assert (again.status, again.parent_id, again.parent_token) == (WorkflowStatus.WAITING, parent.id, "t4")
    assert await store.list_instances(parent_id=child.id) == []
