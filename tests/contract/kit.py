"""What the contract tests build stores and states with (core models only: no engine internals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import msgspec
from sqlalchemy import select

from litestar_workflows import InMemoryPersistence, WorkflowContext, WorkflowPersistence
from litestar_workflows.core.context import StepExecution
from litestar_workflows.core.models import HumanTaskData, Token, WorkflowInstanceData
from litestar_workflows.core.types import StepStatus, TaskStatus, WorkflowStatus
from litestar_workflows.db import SQLAlchemyPersistence, WorkflowInstanceModel
from litestar_workflows.engine.persistence import InstanceChange, TaskClosure

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Backend:
    """One kind of store, and the persistence objects a test opened on it."""

    kind: str
    url: str | None
    opened: list[WorkflowPersistence] = field(default_factory=list)
    memory: InMemoryPersistence | None = None

    @property
    def is_sql(self) -> bool:
        return self.url is not None

    def another(self) -> WorkflowPersistence:
        """A persistence object on this store's data (a new one per call on SQL; the one store in memory)."""
        if self.url is None:
            if self.memory is None:
                self.memory = InMemoryPersistence()
                self.opened.append(self.memory)
            return self.memory
        persistence = SQLAlchemyPersistence(url=self.url, create_all=True)
        self.opened.append(persistence)
        return persistence

    async def close(self) -> None:
        """Close every persistence object opened so far."""
        opened, self.opened = self.opened, []
        self.memory = None
        for persistence in opened:
            await persistence.close()

    async def lease_of(self, store: WorkflowPersistence, instance_id: UUID) -> tuple[str, datetime] | None:
        """(owner, expiry) of an instance's lease as stored, or None."""
        if isinstance(store, InMemoryPersistence):
            return store.lease_of(instance_id)
        assert isinstance(store, SQLAlchemyPersistence)
        model = WorkflowInstanceModel
        query = select(model.lease_owner, model.lease_expires_at).where(model.id == instance_id)
        async with store.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None or row[0] is None:
            return None
        return row[0], row[1]


def instance(
    workflow: str = "orders",
    *,
    data: dict[str, Any] | None = None,
    started_by: str | None = None,
    started_at: datetime = NOW,
    status: WorkflowStatus = WorkflowStatus.RUNNING,
    due: datetime | None = None,
    runnable: bool = True,
    instance_id: UUID | None = None,
) -> WorkflowInstanceData:
    """A new instance (revision 0): RUNNING with one READY token (not before ``due``) unless told otherwise."""
    identifier = instance_id or uuid4()
    context = WorkflowContext(identifier, identifier, dict(data or {}), {}, "work", [], started_at)
    return WorkflowInstanceData(
        id=identifier,
        workflow_name=workflow,
        workflow_version="1",
        status=status,
        context=context,
        current_step="work",
        started_at=started_at,
        tokens=[Token("t1", "work", not_before=due)] if runnable and status is WorkflowStatus.RUNNING else [],
        started_by=started_by,
    )


def advanced(state: WorkflowInstanceData, **fields: Any) -> WorkflowInstanceData:
    """``state``'s next revision, with ``fields`` changed (``data`` merged into the context's data)."""
    data = {**state.context.data, **fields.pop("data", {})}
    context = msgspec.structs.replace(state.context, data=data)
    return msgspec.structs.replace(state, revision=state.revision + 1, context=context, **fields)


def finished(state: WorkflowInstanceData) -> WorkflowInstanceData:
    """``state``'s next revision, completed (no tokens left)."""
    return advanced(state, status=WorkflowStatus.COMPLETED, tokens=[], current_step=None, completed_at=NOW)


def task(
    owner: WorkflowInstanceData,
    *,
    step: str = "review",
    assignee: str | None = None,
    groups: list[str] | None = None,
    status: TaskStatus = TaskStatus.OPEN,
    created_at: datetime = NOW,
) -> HumanTaskData:
    """A task of ``owner``."""
    return HumanTaskData(
        id=uuid4(),
        instance_id=owner.id,
        workflow_name=owner.workflow_name,
        step_name=step,
        token_id="t1",
        title="Review",
        assignee=assignee,
        candidate_groups=list(groups or []),
        status=status,
        created_at=created_at,
    )


def completion(task_id: UUID, by: str = "ann", **fields: Any) -> TaskClosure:
    """Closing a task as completed by ``by``."""
    return TaskClosure(task_id, TaskStatus.COMPLETED, by, NOW, {"ok": True}, **fields)


def execution(step: str = "work", attempt: int = 1) -> StepExecution:
    """A succeeded run of ``step``."""
    return StepExecution(
        step, StepStatus.SUCCEEDED, {"ran": step}, None, NOW, NOW + timedelta(seconds=1), None, None, attempt
    )


async def create(store: WorkflowPersistence, state: WorkflowInstanceData, **change: Any) -> WorkflowInstanceData:
    """Commit ``state`` as a new instance at ``NOW`` (unless ``now`` is given); the state committed."""
    change.setdefault("now", NOW)
    await store.commit(InstanceChange(state, -1, **change))
    return state


async def stored(store: WorkflowPersistence, instance_id: UUID) -> WorkflowInstanceData:
    """The committed instance (it must exist)."""
    found = await store.load_instance(instance_id)
    assert found is not None, instance_id
    return found
