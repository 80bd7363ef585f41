"""The engine writes through WorkflowPersistence.commit only: one commit per event, redone after a conflict.

What every persistence must do with a commit is tested in ``tests/contract``.
"""

from __future__ import annotations

from litestar_workflows import (
    BaseHumanStep,
    InMemoryPersistence,
    LocalExecutionEngine,
    Step,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.core.exceptions import (
    ConcurrentUpdateError,
)
from litestar_workflows.engine.persistence import InstanceChange
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


async def test_only_commits_someone_is_told_of_must_be_flushed(registry: WorkflowRegistry) -> None:
    """``InstanceChange.flush``: a start, an answer to a caller, a task opened, an end; not machine progress."""
    persistence = RecordingPersistence()
    engine = LocalExecutionEngine(registry, persistence)
    try:
        machine = await engine.start_workflow(chain("machine", [SetStep("a", "x", 1), SetStep("b", "y", 2)]))
        await engine.wait_for(machine.id, timeout=5)
        steps: list[Step] = [SetStep("prepare", "x", 1), BaseHumanStep("approve", "Approve"), SetStep("finish", "y", 2)]
        approval = await engine.start_workflow(chain("approval", steps))
        await engine.wait_for(approval.id, timeout=5)
        await engine.complete_human_task(approval.id, "approve", "bob", {})
        await engine.wait_for(approval.id, timeout=5)
        parked = await engine.start_workflow(chain("parked", [BaseHumanStep("wait", "Wait")]))
        await engine.cancel_workflow(parked.id, "not needed")
    finally:
        await engine.stop(0)

    def flushes(instance_id: object) -> list[tuple[str, bool]]:
        return [(c.instance.status.value, c.flush) for c in persistence.changes if c.instance.id == instance_id]

    # start (told to the caller), a's result (progress: b runs next), b's result (the end)
    assert flushes(machine.id) == [("running", True), ("running", False), ("completed", True)]
    # start; prepare's result opens a task (a person sees it); the completion (told to the caller) runs
    # finish, whose result ends the instance
    assert flushes(approval.id) == [("running", True), ("waiting", True), ("running", True), ("completed", True)]
    assert flushes(parked.id) == [("waiting", True), ("canceled", True)]
