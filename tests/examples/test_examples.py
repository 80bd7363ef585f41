"""The example workflows and the demo run end to end (``engine`` comes from tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest

from examples import demo
from examples.approval import APPROVAL_FORM, ExpenseApproval
from examples.parallel_review import REVIEW_AREAS, ParallelReview
from litestar_workflows import (
    LocalExecutionEngine,
    StepStatus,
    TaskStatus,
    WorkflowInstanceData,
    WorkflowStatus,
)
from litestar_workflows.engine.events import WorkflowEvent

ROOT = Path(__file__).resolve().parents[2]


def steps_run(instance: WorkflowInstanceData) -> list[str]:
    return [execution.step_name for execution in instance.context.step_history]


@pytest.mark.parametrize(
    ("approved", "branch", "outcome"),
    [(True, "process", "paid"), (False, "reject", "rejected")],
)
async def test_approval_takes_the_branch_of_the_answer(
    engine: LocalExecutionEngine, approved: bool, branch: str, outcome: str
) -> None:
    started = await engine.start_workflow(ExpenseApproval, {"requester": "alice", "manager": "bob", "amount": 120})
    waiting = await engine.wait_for(started.id, timeout=5)
    assert waiting.status is WorkflowStatus.WAITING
    assert waiting.active_steps == ["manager_approval"]

    (task,) = await engine.get_tasks(instance_id=started.id)
    assert task.assignee == "bob"
    assert task.form_schema == APPROVAL_FORM
    # "amount" is not a form field: it is dropped, not merged over the requested amount.
    await engine.complete_task(task.id, "bob", {"approved": approved, "comment": "looked at it", "amount": 1})

    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert steps_run(done) == ["submit", "manager_approval", "decide", branch]
    assert done.data["outcome"] == outcome
    assert done.data["amount"] == 120
    assert done.data["comment"] == "looked at it"
    approval = done.context.step_history[1]
    assert approval.completed_by == "bob"
    assert approval.status is StepStatus.SUCCEEDED
    if not approved:
        assert done.data["rejection_reason"] == "looked at it"
    (closed,) = await engine.get_tasks(instance_id=started.id, status=None)
    assert closed.status is TaskStatus.COMPLETED


async def test_approval_rejects_a_bad_amount(engine: LocalExecutionEngine) -> None:
    started = await engine.start_workflow(ExpenseApproval, {"manager": "bob", "amount": -5})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None
    assert "amount must be a positive number" in done.error
    assert await engine.get_tasks(instance_id=started.id) == []


async def test_parallel_review_joins_once_with_every_result(engine: LocalExecutionEngine) -> None:
    started = await engine.start_workflow(ParallelReview, {"title": "Billing", "budget": 1000, "design_doc": "ADR-1"})
    done = await engine.wait_for(started.id, timeout=5)

    assert done.status is WorkflowStatus.COMPLETED
    ran = steps_run(done)
    assert ran.count("summarise") == 1
    assert ran[:2] == ["intake", "fork"]
    assert sorted(ran[2:5]) == sorted(f"{area}_review" for area in REVIEW_AREAS)
    assert ran[5:] == ["summarise", "finish"]
    for area in REVIEW_AREAS:
        assert done.data[f"{area}_review"] == {"area": area, "approved": True, "concerns": []}
    assert done.data["review_summary"] == {"approved": True, "concerns": [], "reviews": 3}
    assert done.data["decision"] == "accepted"


async def test_parallel_review_lists_concerns_in_branch_order(engine: LocalExecutionEngine) -> None:
    # The branches finish technical, legal, finance; the summary still follows the declared order.
    started = await engine.start_workflow(ParallelReview, {"budget": 90_000, "personal_data": True})
    done = await engine.wait_for(started.id, timeout=5)

    assert done.status is WorkflowStatus.COMPLETED
    summary = done.data["review_summary"]
    assert summary["approved"] is False
    assert [concern.split()[0] for concern in summary["concerns"]] == ["processes", "budget", "no"]
    assert done.data["decision"] == "changes requested"
    assert done.data["title"] == "untitled proposal"


def test_demo_main_runs_both_workflows(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main() == 0
    printed = capsys.readouterr().out
    for line in (
        "[expense-1] step submit succeeded",
        "[expense-1] task at manager_approval completed by bob",
        "[expense-1] step process succeeded",
        "[expense-1] => completed, outcome='paid'",
        "[expense-2] refused form data",
        "[expense-2] step reject succeeded",
        "[expense-2] => completed, outcome='rejected'",
        "[review] step fork succeeded",
        "[review] step summarise succeeded",
        "[review] => completed, decision='accepted'",
    ):
        assert line in printed
    assert printed.count("step summarise succeeded") == 1
    for area in REVIEW_AREAS:
        assert f"[review] step {area}_review succeeded" in printed


def test_demo_describe_skips_unknown_events() -> None:
    event = WorkflowEvent("step.scheduled", uuid4(), {"step_name": "x"})
    assert demo.describe(event, {}) is None
    failed = WorkflowEvent("step.failed", event.instance_id, {"step_name": "x", "attempt": 1, "error": "boom"})
    assert demo.describe(failed, {event.instance_id: "one"}) == "  [one] step x failed (attempt 1): boom"


@pytest.mark.slow
def test_python_m_examples_demo_exits_0() -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "examples.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "[review] => completed" in result.stdout
    assert result.stderr == ""
