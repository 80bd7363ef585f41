"""Human steps: tasks opened, validated completion, who completed them, and races on one task."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from litestar_workflows import (
    BaseHumanStep,
    Edge,
    ExclusiveGateway,
    InvalidTransitionError,
    LocalExecutionEngine,
    ParallelGateway,
    StepStatus,
    TaskAlreadyCompletedError,
    TaskNotFoundError,
    TaskStatus,
    WorkflowAlreadyCompletedError,
    WorkflowDefinition,
    WorkflowInstanceNotFoundError,
    WorkflowStatus,
    WorkflowValidationError,
)
from tests.helpers import CountStep, SetStep, flow

APPROVAL_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean"},
        "comment": {"type": "string", "maxLength": 20},
    },
    "required": ["approved"],
}


def approval_flow(name: str = "approval") -> WorkflowDefinition:
    return flow(
        name,
        [
            SetStep("submit", "submitted", True),
            BaseHumanStep("approve", "Approve the request", form_schema=APPROVAL_FORM, assignee_key="manager"),
            ExclusiveGateway("decide", lambda c: "accepted" if c.get("approved") else "rejected"),
            SetStep("accepted", "outcome", "accepted"),
            SetStep("rejected", "outcome", "rejected"),
        ],
        [("submit", "approve"), ("approve", "decide"), ("decide", "accepted"), ("decide", "rejected")],
        "submit",
        ["accepted", "rejected"],
    )


async def start_waiting(engine: LocalExecutionEngine, definition: WorkflowDefinition, **data: Any) -> Any:
    started = await engine.start_workflow(definition, data)
    waiting = await engine.wait_for(started.id, timeout=5)
    assert waiting.status is WorkflowStatus.WAITING, waiting.error
    return waiting


async def test_reaching_a_human_step_opens_one_task(engine: LocalExecutionEngine) -> None:
    waiting = await start_waiting(engine, approval_flow(), amount=500, manager="carol")
    assert waiting.active_steps == ["approve"]
    assert waiting.current_step == "approve"
    tasks = await engine.get_tasks(waiting.id)
    assert len(tasks) == 1
    task = tasks[0]
    assert (task.step_name, task.status, task.title) == ("approve", TaskStatus.OPEN, "Approve the request")
    assert task.assignee == "carol"
    assert task.form_schema == APPROVAL_FORM
    assert task.instance_id == waiting.id
    assert task.due_at is None


async def test_completion_merges_declared_fields_and_records_who(engine: LocalExecutionEngine) -> None:
    waiting = await start_waiting(engine, approval_flow(), amount=500)
    await engine.complete_human_task(waiting.id, "approve", "bob", {"approved": True, "amount": 1, "extra": "x"})
    done = await engine.wait_for(waiting.id, timeout=5)

    assert done.status is WorkflowStatus.COMPLETED
    assert done.data["amount"] == 500, "the approver must not overwrite undeclared fields"
    assert "extra" not in done.data
    assert done.data["approved"] is True
    assert done.data["outcome"] == "accepted"
    assert done.context.user_id == "bob"
    execution = next(e for e in done.context.step_history if e.step_name == "approve")
    assert execution.status is StepStatus.SUCCEEDED
    assert execution.completed_by == "bob"
    assert execution.output_data == {"approved": True}
    task = (await engine.get_tasks(waiting.id, status=None))[0]
    assert (task.status, task.completed_by, task.data) == (TaskStatus.COMPLETED, "bob", {"approved": True})
    assert task.completed_at is not None


async def test_invalid_data_is_refused_and_changes_nothing(engine: LocalExecutionEngine) -> None:
    waiting = await start_waiting(engine, approval_flow(), amount=500)
    history_before = len(waiting.context.step_history)
    with pytest.raises(WorkflowValidationError) as raised:
        await engine.complete_human_task(waiting.id, "approve", "bob", {"comment": "x" * 30, "approved": "yes"})
    assert set(raised.value.fields) == {"approved", "comment"}
    assert any("approved" in error for error in raised.value.errors)
    assert any("comment" in error for error in raised.value.errors)

    with pytest.raises(WorkflowValidationError) as missing:
        await engine.complete_human_task(waiting.id, "approve", "bob", {})
    assert missing.value.fields == {"approved": "is required"}

    with pytest.raises(WorkflowValidationError, match="JSON object"):
        await engine.complete_human_task(waiting.id, "approve", "bob", ["not", "a", "dict"])  # type: ignore[arg-type]

    after = await engine.get_instance(waiting.id)
    assert after.status is WorkflowStatus.WAITING
    assert after.data == waiting.data
    assert len(after.context.step_history) == history_before
    assert [t.status for t in await engine.get_tasks(waiting.id, status=None)] == [TaskStatus.OPEN]

    # The task is still completable afterwards.
    await engine.complete_human_task(waiting.id, "approve", "bob", {"approved": False})
    assert (await engine.wait_for(waiting.id, timeout=5)).data["outcome"] == "rejected"


async def test_accept_any_data_merges_everything(engine: LocalExecutionEngine) -> None:
    note = BaseHumanStep("note", accept_any_data=True)
    definition = flow("free_form", [note, SetStep("end")], [("note", "end")], "note", ["end"])
    waiting = await start_waiting(engine, definition)
    assert (await engine.get_tasks(waiting.id))[0].title == "Note"
    await engine.complete_human_task(waiting.id, "note", "ann", {"text": "hi", "n": 2})
    done = await engine.wait_for(waiting.id, timeout=5)
    assert {"text": "hi", "n": 2}.items() <= done.data.items()


async def test_unstorable_form_data_is_refused(engine: LocalExecutionEngine) -> None:
    note = BaseHumanStep("note", accept_any_data=True)
    definition = flow("free_form2", [note, SetStep("end")], [("note", "end")], "note", ["end"])
    waiting = await start_waiting(engine, definition)
    with pytest.raises(WorkflowValidationError, match="'blob' cannot be stored"):
        await engine.complete_human_task(waiting.id, "note", "ann", {"blob": {1, 2}})
    assert (await engine.get_tasks(waiting.id))[0].status is TaskStatus.OPEN


async def test_completing_twice_and_wrong_steps(engine: LocalExecutionEngine) -> None:
    waiting = await start_waiting(engine, approval_flow())
    with pytest.raises(InvalidTransitionError, match="not waiting"):
        await engine.complete_human_task(waiting.id, "submit", "bob", {"approved": True})
    with pytest.raises(InvalidTransitionError, match="no step"):
        await engine.complete_human_task(waiting.id, "missing", "bob", {"approved": True})
    with pytest.raises(WorkflowInstanceNotFoundError):
        await engine.complete_human_task(uuid4(), "approve", "bob", {"approved": True})

    await engine.complete_human_task(waiting.id, "approve", "bob", {"approved": True})
    await engine.wait_for(waiting.id, timeout=5)
    with pytest.raises(TaskAlreadyCompletedError):
        await engine.complete_human_task(waiting.id, "approve", "bob", {"approved": False})
    task = (await engine.get_tasks(waiting.id, status=None))[0]
    with pytest.raises(TaskAlreadyCompletedError):
        await engine.complete_task(task.id, "bob", {"approved": False})
    assert (await engine.get_instance(waiting.id)).data["outcome"] == "accepted"


async def test_completing_on_a_finished_instance(engine: LocalExecutionEngine) -> None:
    definition = flow(
        "finished",
        [SetStep("start"), BaseHumanStep("later"), SetStep("end")],
        [Edge("start", "later", "go"), Edge("start", "end", "not go"), ("later", "end")],
        "start",
        ["end"],
    )
    started = await engine.start_workflow(definition, {"go": False})
    assert (await engine.wait_for(started.id, timeout=5)).status is WorkflowStatus.COMPLETED
    with pytest.raises(WorkflowAlreadyCompletedError):
        await engine.complete_human_task(started.id, "later", "bob", {})


async def test_complete_task_by_id(engine: LocalExecutionEngine) -> None:
    waiting = await start_waiting(engine, approval_flow())
    task = (await engine.get_tasks(waiting.id))[0]
    result = await engine.complete_task(task.id, "dave", {"approved": True})
    assert result.id == waiting.id
    done = await engine.wait_for(waiting.id, timeout=5)
    assert done.data["outcome"] == "accepted"
    with pytest.raises(TaskNotFoundError):
        await engine.complete_task(uuid4(), "dave", {"approved": True})


async def test_parallel_human_steps_open_one_task_each(engine: LocalExecutionEngine) -> None:
    join = CountStep("join")
    form = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    definition = flow(
        "two_approvals",
        [
            ParallelGateway("fork", ["legal", "finance"]),
            BaseHumanStep("legal", form_schema=form),
            BaseHumanStep("finance", form_schema=form),
            join,
            SetStep("end"),
        ],
        [("legal", "join"), ("finance", "join"), ("join", "end")],
        "fork",
        ["end"],
    )
    waiting = await start_waiting(engine, definition)
    assert sorted(waiting.active_steps) == ["finance", "legal"]
    assert sorted(t.step_name for t in await engine.get_tasks(waiting.id)) == ["finance", "legal"]

    after_first = await engine.complete_human_task(waiting.id, "finance", "fin", {"ok": True})
    assert after_first.status is WorkflowStatus.WAITING
    assert join.runs == 0
    await engine.complete_human_task(waiting.id, "legal", "law", {"ok": False})
    done = await engine.wait_for(waiting.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert join.runs == 1
    # Both wrote "ok": the later-declared branch (finance) wins although it was completed first.
    assert done.data["ok"] is True
    by_step = {e.step_name: e.completed_by for e in done.context.step_history}
    assert by_step["legal"] == "law" and by_step["finance"] == "fin"


async def test_human_step_followed_by_a_fork_resumes_every_branch(engine: LocalExecutionEngine) -> None:
    left, right = CountStep("left"), CountStep("right")
    definition = flow(
        "human_then_fork",
        [BaseHumanStep("review"), left, right, SetStep("join")],
        [("review", "left"), ("review", "right"), ("left", "join"), ("right", "join")],
        "review",
        ["join"],
    )
    waiting = await start_waiting(engine, definition)
    await engine.complete_human_task(waiting.id, "review", "rev", {})
    done = await engine.wait_for(waiting.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert (left.runs, right.runs) == (1, 1)
    assert [e.step_name for e in done.context.step_history].count("join") == 1


async def test_concurrent_completions_of_one_task(engine: LocalExecutionEngine) -> None:
    definition = flow(
        "race",
        [
            BaseHumanStep("approve", form_schema={"type": "object", "properties": {"who": {"type": "integer"}}}),
            SetStep("end"),
        ],
        [("approve", "end")],
        "approve",
        ["end"],
    )
    waiting = await start_waiting(engine, definition)
    task = (await engine.get_tasks(waiting.id))[0]

    async def attempt(index: int) -> int:
        if index % 2:
            await engine.complete_task(task.id, f"user{index}", {"who": index})
        else:
            await engine.complete_human_task(waiting.id, "approve", f"user{index}", {"who": index})
        return index

    results = await asyncio.gather(*(attempt(i) for i in range(20)), return_exceptions=True)
    winners = [r for r in results if isinstance(r, int)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert len(losers) == 19
    assert all(isinstance(error, TaskAlreadyCompletedError) for error in losers), losers

    done = await engine.wait_for(waiting.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.data["who"] == winners[0]
    approvals = [e for e in done.context.step_history if e.step_name == "approve"]
    assert len(approvals) == 1 and approvals[0].completed_by == f"user{winners[0]}"
    stored = (await engine.get_tasks(waiting.id, status=None))[0]
    assert stored.completed_by == f"user{winners[0]}"


async def test_task_due_time_and_candidate_groups(engine: LocalExecutionEngine) -> None:
    step = BaseHumanStep("sign", candidate_groups=["legal"], due_in=timedelta(hours=2), description="Sign it")
    definition = flow("due", [step, SetStep("end")], [("sign", "end")], "sign", ["end"])
    waiting = await start_waiting(engine, definition)
    task = (await engine.get_tasks(waiting.id))[0]
    assert task.candidate_groups == ["legal"]
    assert task.description == "Sign it"
    assert task.created_at is not None and task.due_at == task.created_at + timedelta(hours=2)
    assert step.form_fields() == frozenset()  # no form: it takes no data
    assert BaseHumanStep("y", accept_any_data=True).form_fields() is None
    assert BaseHumanStep("x", form_schema=APPROVAL_FORM).form_fields() == frozenset({"approved", "comment"})
    assert await step.execute(waiting.context) is None


async def test_human_task_events(engine: LocalExecutionEngine) -> None:
    from litestar_workflows import InMemoryEventBus

    bus = engine.event_bus
    assert isinstance(bus, InMemoryEventBus)
    async with bus.subscribe() as queue:
        waiting = await start_waiting(engine, approval_flow("events"))
        await engine.complete_human_task(waiting.id, "approve", "bob", {"approved": True})
        await engine.wait_for(waiting.id, timeout=5)
        kinds = []
        while not queue.empty():
            kinds.append(queue.get_nowait().event_type)
    assert kinds[:4] == ["workflow.started", "step.succeeded", "task.created", "workflow.waiting"]
    assert "task.completed" in kinds
    assert kinds[-1] == "workflow.completed"


async def test_a_completion_that_read_the_task_before_another_one_finished_the_instance(
    engine: LocalExecutionEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It is told the task is done (as every late completion is), not that the instance finished."""
    waiting = await start_waiting(engine, approval_flow())
    (task,) = await engine.get_tasks(waiting.id)  # read while still open...
    await engine.complete_task(task.id, "dave", {"approved": True})  # ...then someone else completes it
    assert (await engine.wait_for(waiting.id, timeout=5)).status is WorkflowStatus.COMPLETED
    persistence = engine.persistence
    reads = 0
    get_task = type(persistence).get_task

    async def first_read_is_stale(self: Any, task_id: Any) -> Any:
        nonlocal reads
        reads += 1
        return task if reads == 1 else await get_task(self, task_id)

    monkeypatch.setattr(type(persistence), "get_task", first_read_is_stale)
    with pytest.raises(TaskAlreadyCompletedError, match="already completed"):
        await engine.complete_task(task.id, "erin", {"approved": False})
