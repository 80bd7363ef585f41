"""Run the example workflows end to end and print every step as it happens.

    python -m examples.demo        (or: make demo)

Two expense requests go through ``ExpenseApproval``: "bob", their manager, approves the small
one and rejects the large one. Then a proposal goes through ``ParallelReview``. Every line
printed comes from the engine's events, published after each change was committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from typing import Any
from uuid import UUID

from examples.approval import ExpenseApproval
from examples.parallel_review import ParallelReview
from litestar_workflows import (
    InMemoryEventBus,
    InMemoryPersistence,
    LocalExecutionEngine,
    WorkflowInstanceData,
    WorkflowPersistence,
    WorkflowRegistry,
    WorkflowStatus,
    WorkflowValidationError,
)
from litestar_workflows.engine.events import WorkflowEvent

__all__ = ("describe", "main", "make_persistence", "run_demo")

Printer = Callable[[str], None]

APPROVAL_LIMIT = 1000
"""Bob approves expenses up to this amount."""


def make_persistence() -> WorkflowPersistence:
    """Where the demo's instances live: swap this one line for a SQL-backed persistence."""
    return InMemoryPersistence()


def describe(event: WorkflowEvent, names: dict[UUID, str]) -> str | None:
    """One line for an event, or None for events the demo does not show."""
    who = names.get(event.instance_id, str(event.instance_id)[:8])
    payload = event.payload
    match event.event_type:
        case "workflow.started":
            text = f"started ({payload['workflow_name']})"
        case "step.succeeded":
            text = f"step {payload['step_name']} {payload['status']}"
        case "step.failed":
            text = f"step {payload['step_name']} failed (attempt {payload['attempt']}): {payload['error']}"
        case "task.created":
            text = f"task opened at {payload['step_name']}"
        case "task.completed":
            text = f"task at {payload['step_name']} completed by {payload['user_id']}"
        case "workflow.waiting":
            text = f"waiting at {', '.join(payload['steps'])}"
        case "workflow.completed" | "workflow.failed" | "workflow.canceled":
            text = event.event_type.removeprefix("workflow.")
        case _:
            return None
    return f"  [{who}] {text}"


class _EventPrinter:
    """Prints the bus's events from a background task, while the workflows run."""

    def __init__(self, queue: asyncio.Queue[WorkflowEvent], out: Printer) -> None:
        self.queue = queue
        self.out = out
        self.names: dict[UUID, str] = {}
        """Short labels of the instances, for readable lines."""
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                line = describe(event, self.names)
                if line is not None:
                    self.out(line)
            finally:
                self.queue.task_done()

    async def flush(self) -> None:
        """Wait until every event published so far is printed (so our own lines come after)."""
        joined = asyncio.ensure_future(self.queue.join())
        await asyncio.wait({joined, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if self._task.done():  # the printer died (e.g. stdout closed): report why instead of hanging
            joined.cancel()
            self._task.result()

    async def close(self) -> None:
        """Stop printing."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def _expense(
    engine: LocalExecutionEngine, printer: _EventPrinter, label: str, data: dict[str, Any]
) -> WorkflowInstanceData:
    out = printer.out
    instance = await engine.start_workflow(ExpenseApproval, data)
    printer.names[instance.id] = label
    waiting = await engine.wait_for(instance.id, timeout=5)
    await printer.flush()
    (task,) = await engine.get_tasks(instance_id=instance.id)
    fields = sorted((task.form_schema or {}).get("properties", {}))
    out(f"  [{label}] {waiting.status.value}: task {task.title!r} for {task.assignee}, form fields {fields}")

    if data["amount"] > APPROVAL_LIMIT:
        try:  # a malformed submission is refused and changes nothing
            await engine.complete_task(task.id, "bob", {"approved": "no"})
        except WorkflowValidationError as exc:
            out(f"  [{label}] refused form data: {exc.fields}")
        answer: dict[str, Any] = {"approved": False, "comment": f"over the {APPROVAL_LIMIT} limit"}
    else:
        answer = {"approved": True, "comment": "fine"}
    await engine.complete_task(task.id, "bob", answer)
    done = await engine.wait_for(instance.id, timeout=5)
    await printer.flush()
    out(f"  [{label}] => {done.status.value}, outcome={done.data.get('outcome')!r}")
    return done


async def _review(engine: LocalExecutionEngine, printer: _EventPrinter, data: dict[str, Any]) -> WorkflowInstanceData:
    instance = await engine.start_workflow(ParallelReview, data)
    printer.names[instance.id] = "review"
    done = await engine.wait_for(instance.id, timeout=5)
    await printer.flush()
    printer.out(f"  [review] => {done.status.value}, decision={done.data.get('decision')!r}")
    printer.out(f"  [review] summary: {done.data.get('review_summary')}")
    return done


async def run_demo(out: Printer = print) -> list[WorkflowInstanceData]:
    """Run everything; returns the finished instances."""
    bus = InMemoryEventBus()
    registry = WorkflowRegistry()
    registry.register(ExpenseApproval)
    registry.register(ParallelReview)
    engine = LocalExecutionEngine(registry, make_persistence(), bus)
    finished: list[WorkflowInstanceData] = []
    async with bus.subscribe() as queue:
        printer = _EventPrinter(queue, out)
        try:
            await engine.start()  # resumes unfinished work; nothing to resume in memory
            out("Expense approval, approved:")
            finished.append(
                await _expense(engine, printer, "expense-1", {"requester": "alice", "manager": "bob", "amount": 120})
            )
            out("Expense approval, rejected:")
            finished.append(
                await _expense(engine, printer, "expense-2", {"requester": "carol", "manager": "bob", "amount": 4800})
            )
            out("Parallel review:")
            finished.append(
                await _review(
                    engine, printer, {"title": "New billing service", "budget": 20_000, "design_doc": "ADR-12"}
                )
            )
        finally:
            await engine.stop()
            await printer.close()
    return finished


def main() -> int:
    """Entry point of ``python -m examples.demo``; 0 when every instance completed."""
    finished = asyncio.run(run_demo())
    return 0 if all(instance.status is WorkflowStatus.COMPLETED for instance in finished) else 1


if __name__ == "__main__":
    sys.exit(main())
