"""Everything goes through WorkflowPersistence.commit: atomic, revision-checked, and enough to resume."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from litestar_workflows import (
    BaseHumanStep,
    InMemoryPersistence,
    LocalExecutionEngine,
    TaskStatus,
    TimerStep,
    WorkflowPersistence,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.core.exceptions import (
    ConcurrentUpdateError,
    TaskAlreadyCompletedError,
    TaskNotFoundError,
    WorkflowInstanceNotFoundError,
)
from litestar_workflows.engine.persistence import InstanceChange, TaskClosure
from tests.helpers import CountStep, SetStep, chain


class RecordingPersistence(InMemoryPersistence):
    """Counts commits and can refuse the next few with a concurrent-update conflict."""

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[InstanceChange] = []
        self.conflicts = 0

    async def commit(self, change: InstanceChange) -> bool:
        if self.conflicts and change.expected_revision != -1:
            self.conflicts -= 1
            raise ConcurrentUpdateError("someone else wrote first")
        held = await super().commit(change)
        self.changes.append(change)
        return held


def test_in_memory_persistence_satisfies_the_protocol() -> None:
    assert isinstance(InMemoryPersistence(), WorkflowPersistence)


async def test_every_change_is_one_commit_with_increasing_revisions(registry: WorkflowRegistry) -> None:
    persistence = RecordingPersistence()
    engine = LocalExecutionEngine(registry, persistence)
    try:
        started = await engine.start_workflow(chain("revisions", [SetStep("a", "x", 1), SetStep("b", "y", 2)]))
        done = await engine.wait_for(started.id, timeout=5)
    finally:
        await engine.stop(0)
    assert done.status is WorkflowStatus.COMPLETED
    assert [c.expected_revision for c in persistence.changes] == [-1, 0, 1]
    assert [c.instance.revision for c in persistence.changes] == [0, 1, 2]
    assert [[e.step_name for e in c.executions] for c in persistence.changes] == [[], ["a"], ["b"]]
    assert done.revision == 2


async def test_engine_redoes_a_change_after_a_conflict(registry: WorkflowRegistry) -> None:
    persistence = RecordingPersistence()
    engine = LocalExecutionEngine(registry, persistence)
    counter = CountStep("count")
    try:
        started = await engine.start_workflow(
            chain("conflict", [BaseHumanStep("approve", accept_any_data=True), counter])
        )
        await engine.wait_for(started.id, timeout=5)
        persistence.conflicts = 2
        await engine.complete_human_task(started.id, "approve", "ann", {"ok": True})
        done = await engine.wait_for(started.id, timeout=5)
    finally:
        await engine.stop(0)
    assert done.status is WorkflowStatus.COMPLETED
    assert counter.runs == 1
    assert [e.step_name for e in done.context.step_history] == ["approve", "count"]


async def test_commit_preconditions_change_nothing_when_they_fail(
    engine: LocalExecutionEngine, persistence: InMemoryPersistence
) -> None:
    started = await engine.start_workflow(chain("pre", [BaseHumanStep("approve"), SetStep("end")]))
    state = await persistence.load_instance(started.id)
    assert state is not None
    task = (await persistence.list_tasks(instance_id=started.id))[0]

    with pytest.raises(ConcurrentUpdateError):
        await persistence.commit(InstanceChange(state, expected_revision=-1))
    stale = msgspec.structs.replace(state, revision=state.revision + 1, status=WorkflowStatus.COMPLETED)
    with pytest.raises(ConcurrentUpdateError):
        await persistence.commit(InstanceChange(stale, expected_revision=state.revision + 5))
    unknown_task = TaskClosure(task.instance_id, TaskStatus.COMPLETED)
    with pytest.raises(TaskNotFoundError):
        await persistence.commit(InstanceChange(stale, state.revision, closed_tasks=[unknown_task]))

    current = await persistence.load_instance(started.id)
    assert current is state and current.status is WorkflowStatus.WAITING
    assert (await persistence.get_task(task.id)) == task

    closure = TaskClosure(task.id, TaskStatus.COMPLETED, "ann", datetime.now(UTC), {})
    await persistence.commit(InstanceChange(stale, state.revision, closed_tasks=[closure]))
    again = msgspec.structs.replace(stale, revision=stale.revision + 1)
    with pytest.raises(TaskAlreadyCompletedError):
        await persistence.commit(InstanceChange(again, stale.revision, closed_tasks=[closure]))

    ghost = msgspec.structs.replace(state, id=task.id)
    with pytest.raises(WorkflowInstanceNotFoundError):
        await persistence.commit(InstanceChange(ghost, expected_revision=0))


async def test_listing_queries(engine: LocalExecutionEngine, persistence: InMemoryPersistence) -> None:
    waiting_flow = chain("lists_waiting", [BaseHumanStep("approve"), SetStep("end")])
    done_flow = chain("lists_done", [SetStep("a")])
    timer_flow = chain("lists_timer", [TimerStep("wait", timedelta(hours=1)), SetStep("end")])
    waiting = await engine.start_workflow(waiting_flow)
    finished = await engine.start_workflow(done_flow)
    timed = await engine.start_workflow(timer_flow)
    await engine.wait_for(finished.id, timeout=5)

    assert [i.id for i in await persistence.list_instances()] == [waiting.id, finished.id, timed.id]
    assert [i.id for i in await persistence.list_instances(workflow_name="lists_done")] == [finished.id]
    assert [i.id for i in await persistence.list_instances(status=WorkflowStatus.WAITING)] == [waiting.id]
    assert len(await persistence.list_tasks(status=TaskStatus.OPEN)) == 1
    assert await persistence.list_tasks(status=TaskStatus.COMPLETED) == []

    now = datetime.now(UTC)
    assert await persistence.list_due_timers(now) == []
    due = await persistence.list_due_timers(now + timedelta(hours=2))
    assert [(instance_id, when > now) for instance_id, _token, when in due] == [(timed.id, True)]


async def test_two_engines_on_one_persistence_run_each_step_once(registry: WorkflowRegistry) -> None:
    persistence = InMemoryPersistence()
    counter = CountStep("count")
    definition = chain("shared", [BaseHumanStep("approve"), counter, SetStep("end")])
    first = LocalExecutionEngine(registry, persistence)
    second = LocalExecutionEngine(registry, persistence)
    try:
        started = await first.start_workflow(definition)
        await first.wait_for(started.id, timeout=5)
        await second.start()
        await second.complete_human_task(started.id, "approve", "ann", {})
        done = await second.wait_for(started.id, timeout=5)
        assert done.status is WorkflowStatus.COMPLETED
        await first.recover()
        await asyncio.sleep(0.01)
        assert counter.runs == 1
        assert [e.step_name for e in done.context.step_history] == ["approve", "count", "end"]
    finally:
        await first.stop(0)
        await second.stop(0)
