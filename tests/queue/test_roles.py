"""The engine's roles, in one process on the in-memory store: what the web role leaves to workers.

A recording dispatcher stands in for the queue: the web role must hand every runnable token to
it (it holds no leases, so nothing else would run them), a worker runs what it holds in process,
and ``run_token`` says when a token is held elsewhere so a job can try again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    Edge,
    InMemoryPersistence,
    InProcessDispatcher,
    LocalExecutionEngine,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.db import SQLAlchemyPersistence
from litestar_workflows.engine.roles import EngineRole, TokenRun


class Record(BaseMachineStep):
    async def execute(self, context: WorkflowContext) -> Any:
        return self.name


class Recorder:
    """A dispatcher that only remembers what it was asked to run (a queue nobody consumes)."""

    def __init__(self) -> None:
        self.dispatched: list[tuple[UUID, str, datetime | None]] = []

    def dispatch(self, instance_id: UUID, token_id: str, not_before: datetime | None = None) -> None:
        self.dispatched.append((instance_id, token_id, not_before))

    async def close(self, grace_period: float = 0.0) -> None:
        return None


def flow() -> WorkflowDefinition:
    steps = [Record("first"), BaseHumanStep("approve", title="Approve", candidate_groups=["approvers"]), Record("last")]
    return WorkflowDefinition(
        name="roles",
        version="1",
        description="a step, a person, a step",
        steps={step.name: step for step in steps},
        edges=[Edge("first", "approve"), Edge("approve", "last")],
        initial_step="first",
        terminal_steps={"last"},
    )


def engines(store: InMemoryPersistence) -> tuple[LocalExecutionEngine, LocalExecutionEngine, Recorder]:
    registry = WorkflowRegistry()
    registry.register_definition(flow())
    queue = Recorder()
    web = LocalExecutionEngine(registry, store, dispatcher=queue, owner_id="web", role=EngineRole.WEB)
    worker = LocalExecutionEngine(registry, store, owner_id="worker", role=EngineRole.WORKER)
    return web, worker, queue


async def test_the_web_role_commits_and_dispatches_and_runs_nothing() -> None:
    store = InMemoryPersistence()
    web, worker, queue = engines(store)
    assert await web.start() == 0 and web.loops == {}, "the web role runs no claim or renew loop"
    started = await web.start_workflow("roles")
    ((instance_id, token_id, _),) = queue.dispatched
    assert instance_id == started.id
    assert await store.claim_runnable("someone", datetime.now(UTC), datetime.now(UTC), 10) == [started.id], (
        "the web role took the lease: workers could not run the instance"
    )
    await store.release_leases("someone")
    with pytest.raises(RuntimeError, match="web role runs no steps"):
        await web.run_token(instance_id, token_id)

    assert await worker.run_token(instance_id, token_id) is TokenRun.RAN
    assert await worker.run_token(instance_id, token_id) is TokenRun.NOTHING_TO_RUN
    waiting = await web.wait_for(instance_id, timeout=5)
    assert waiting.status is WorkflowStatus.WAITING
    (task,) = await web.get_tasks(instance_id)
    await web.complete_task(task.id, "bob", {})
    assert len(queue.dispatched) == 2, "the completion's next step went to the queue"
    _, next_token, _ = queue.dispatched[1]
    assert await worker.run_token(instance_id, next_token) is TokenRun.RAN
    assert (await web.get_instance(instance_id)).status is WorkflowStatus.COMPLETED
    await worker.stop(0)


async def test_a_token_held_by_another_engine_is_reported_not_dropped() -> None:
    store = InMemoryPersistence()
    web, worker, queue = engines(store)
    started = await web.start_workflow("roles")
    ((_, token_id, _),) = queue.dispatched
    now = datetime.now(UTC)
    assert await store.acquire_lease(started.id, "another-worker", now, now.replace(year=now.year + 1))
    assert await worker.run_token(started.id, token_id) is TokenRun.HELD_ELSEWHERE
    assert (await web.get_instance(started.id)).status is WorkflowStatus.RUNNING, "nothing ran"


async def test_wait_for_in_the_web_role_wakes_on_a_change_made_elsewhere() -> None:
    store = InMemoryPersistence()
    web, worker, queue = engines(store)
    started = await web.start_workflow("roles")
    ((_, token_id, _),) = queue.dispatched
    waiting = asyncio.create_task(web.wait_for(started.id, timeout=5))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await web.changed_elsewhere(started.id)  # an event arrived, but nothing settled yet
    assert not waiting.done()
    await worker.run_token(started.id, token_id)  # another process (the worker) advances it
    await web.changed_elsewhere(started.id)  # its event arrives here
    assert (await waiting).status is WorkflowStatus.WAITING


async def test_recovery_leaves_fresh_work_to_the_queue_for_the_grace_period(tmp_path: Path) -> None:
    # On SQL, as a queue deployment runs: the store records when each token became due.
    store = SQLAlchemyPersistence(url=f"sqlite+aiosqlite:///{tmp_path / 'roles.sqlite3'}", create_all=True)
    registry = WorkflowRegistry()
    registry.register_definition(flow())
    web = LocalExecutionEngine(registry, store, dispatcher=Recorder(), owner_id="web", role=EngineRole.WEB)
    patient = LocalExecutionEngine(registry, store, owner_id="w1", role=EngineRole.WORKER, recovery_grace=3600)
    eager = LocalExecutionEngine(registry, store, owner_id="w2", role=EngineRole.WORKER)
    eager.dispatcher = InProcessDispatcher(eager.run_token)
    await store.open(registry)
    started = await web.start_workflow("roles")
    assert await patient.recover() == 0, "claimed work the queue still has time to deliver"
    assert await eager.recover() == 1
    assert (await eager.wait_for(started.id, timeout=5)).status is WorkflowStatus.WAITING
    await eager.stop(0)
    await store.close()
