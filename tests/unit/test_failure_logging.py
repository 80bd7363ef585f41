"""Failed steps are logged (WARNING per retried attempt, ERROR with the traceback when the instance fails)
and the traceback is kept in the step history."""

from __future__ import annotations

import asyncio
import logging

import pytest

from litestar_workflows import (
    Edge,
    ExclusiveGateway,
    InMemoryEventBus,
    InMemoryPersistence,
    LocalExecutionEngine,
    StepStatus,
    WorkflowContext,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.engine.failures import MAX_TRACEBACK_CHARS, traceback_text
from tests.helpers import FuncStep, SetStep, chain, flow


def _engine_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "litestar_workflows.engine"]


async def _charge_card(context: WorkflowContext) -> None:
    msg = f"card declined for {context.get('customer')}"
    raise ValueError(msg)


@pytest.mark.parametrize("with_event_bus", [True, False], ids=["event bus", "no event bus"])
async def test_each_attempt_is_logged_and_the_last_with_its_traceback(
    caplog: pytest.LogCaptureFixture, with_event_bus: bool
) -> None:
    caplog.set_level(logging.INFO, logger="litestar_workflows")
    engine = LocalExecutionEngine(
        WorkflowRegistry(), InMemoryPersistence(), InMemoryEventBus() if with_event_bus else None
    )
    definition = chain("billing", [FuncStep("charge", _charge_card, max_retries=1), SetStep("after")], version="3")
    try:
        started = await engine.start_workflow(definition, {"customer": "ada"})
        final = await engine.wait_for(started.id, timeout=5)
    finally:
        await engine.stop(0)

    assert final.status is WorkflowStatus.FAILED
    first, last = _engine_records(caplog)
    assert first.levelno == logging.WARNING
    assert first.getMessage() == (
        f"workflow instance {started.id} (billing version 3): step 'charge' failed on attempt 1: "
        "ValueError: card declined for ada; retrying in 0s"
    )
    assert first.exc_info is None
    assert last.levelno == logging.ERROR
    headline, traceback = last.getMessage().split("\n", 1)
    assert headline == (
        f"workflow instance {started.id} (billing version 3) failed: step 'charge' failed on attempt 2: "
        "ValueError: card declined for ada"
    )
    assert traceback.startswith("Traceback (most recent call last):")
    assert "in _charge_card" in traceback
    assert traceback.endswith("ValueError: card declined for ada")
    fields = ("workflow_instance_id", "workflow", "workflow_version", "step", "attempt")
    for record, attempt in [(first, 1), (last, 2)]:  # the ``extra`` fields, for structured log handlers
        assert [getattr(record, name) for name in fields] == [str(started.id), "billing", "3", "charge", attempt]

    failures = [e for e in final.context.step_history if e.status is StepStatus.FAILED]
    assert [e.attempt for e in failures] == [1, 2]
    for execution in failures:
        assert execution.traceback is not None
        assert execution.traceback.startswith("Traceback (most recent call last):")
        assert "in _charge_card" in execution.traceback
        assert execution.traceback.rstrip().endswith("ValueError: card declined for ada")


async def test_a_timed_out_step_keeps_where_it_was_stuck(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="litestar_workflows")

    async def hang_on_the_supplier(context: WorkflowContext) -> None:
        await asyncio.Event().wait()

    engine = LocalExecutionEngine(WorkflowRegistry(), InMemoryPersistence(), InMemoryEventBus())
    try:
        started = await engine.start_workflow(chain("slow", [FuncStep("call", hang_on_the_supplier, timeout=0.01)]))
        final = await engine.wait_for(started.id, timeout=5)
    finally:
        await engine.stop(0)

    assert final.status is WorkflowStatus.FAILED
    [execution] = final.context.step_history
    assert execution.error == "timed out after 0.01s"
    assert execution.traceback is not None and "in hang_on_the_supplier" in execution.traceback
    [record] = _engine_records(caplog)
    assert record.levelno == logging.ERROR
    assert "step 'call' failed on attempt 1: timed out after 0.01s\n" in record.getMessage()
    assert "in hang_on_the_supplier" in record.getMessage()


async def test_a_gateway_without_a_branch_is_logged_as_the_instance_failing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="litestar_workflows")
    definition = flow(
        "routing",
        [ExclusiveGateway("route"), SetStep("big"), SetStep("small")],
        [Edge("route", "big", "amount > 100"), Edge("route", "small", "amount <= 10")],
        "route",
        ["big", "small"],
    )
    engine = LocalExecutionEngine(WorkflowRegistry(), InMemoryPersistence(), InMemoryEventBus())
    try:
        started = await engine.start_workflow(definition, {"amount": 50})
        final = await engine.wait_for(started.id, timeout=5)
    finally:
        await engine.stop(0)

    assert final.status is WorkflowStatus.FAILED
    [record] = _engine_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith(
        f"workflow instance {started.id} (routing version 1) failed: step 'route' failed on attempt 1: "
        "exclusive gateway 'route' matched no branch\nTraceback (most recent call last):"
    )
    [execution] = final.context.step_history
    assert execution.traceback is not None and "matched no branch" in execution.traceback


def test_a_traceback_is_storable_text_of_bounded_length() -> None:
    def recurse(depth: int) -> None:
        if depth == 0:
            msg = "bottom\x00reached"
            raise RuntimeError(msg)
        recurse(depth - 1)

    try:
        recurse(5)
    except RuntimeError as exc:
        short = traceback_text(exc)
    assert "\x00" not in short
    assert short.rstrip().endswith("RuntimeError: bottom\\x00reached")

    try:
        raise RuntimeError("x" * (3 * MAX_TRACEBACK_CHARS))
    except RuntimeError as exc:
        long = traceback_text(exc)
    assert len(long) < MAX_TRACEBACK_CHARS + 100
    assert long.startswith("Traceback (most recent call last):")
    assert "characters left out" in long
