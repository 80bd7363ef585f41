"""Failures: retries with backoff, timeouts, hooks, and skipped steps."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from litestar_workflows import (
    BaseMachineStep,
    LocalExecutionEngine,
    StepStatus,
    WorkflowContext,
    WorkflowStatus,
)
from tests.helpers import SetStep, chain


class Flaky(BaseMachineStep):
    """Fails ``failures`` times, then succeeds; records hook calls."""

    def __init__(self, name: str, failures: int, **options: Any) -> None:
        super().__init__(name, **options)
        self.failures = failures
        self.attempts: list[int] = []
        self.hooks: list[str] = []

    async def execute(self, context: WorkflowContext) -> str:
        self.attempts.append(context.attempt)
        if len(self.attempts) <= self.failures:
            raise ConnectionError(f"attempt {context.attempt} failed")
        return "ok"

    async def on_success(self, context: WorkflowContext, result: Any) -> None:
        self.hooks.append(f"success:{result}")

    async def on_failure(self, context: WorkflowContext, error: Exception) -> None:
        self.hooks.append(f"failure:{type(error).__name__}")


async def test_retries_until_success_recording_every_attempt(engine: LocalExecutionEngine) -> None:
    flaky = Flaky("call_api", failures=2, max_retries=3, retry_backoff=0.01)
    started = await engine.start_workflow(chain("retry_ok", [flaky, SetStep("end", "done", True)]))
    done = await engine.wait_for(started.id, timeout=5)

    assert done.status is WorkflowStatus.COMPLETED
    assert flaky.attempts == [1, 2, 3]
    runs = [e for e in done.context.step_history if e.step_name == "call_api"]
    assert [(e.attempt, e.status) for e in runs] == [
        (1, StepStatus.FAILED),
        (2, StepStatus.FAILED),
        (3, StepStatus.SUCCEEDED),
    ]
    assert runs[0].error == "ConnectionError: attempt 1 failed"
    assert runs[2].error is None and runs[2].result == "ok"
    # The backoff really separated the attempts.
    assert runs[0].completed_at is not None and runs[1].started_at is not None
    assert (runs[1].started_at - runs[0].completed_at).total_seconds() >= 0.009
    assert flaky.hooks == ["failure:ConnectionError", "failure:ConnectionError", "success:ok"]


async def test_exhausted_retries_fail_the_instance(engine: LocalExecutionEngine) -> None:
    backoffs: list[int] = []

    def backoff(attempt: int) -> float:
        backoffs.append(attempt)
        return 0.0

    flaky = Flaky("call_api", failures=10, max_retries=2, retry_backoff=backoff)
    started = await engine.start_workflow(chain("retry_fail", [flaky, SetStep("end", "done", True)]))
    done = await engine.wait_for(started.id, timeout=5)

    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None
    assert "'call_api'" in done.error and "3 attempt" in done.error and "attempt 3 failed" in done.error
    runs = [e for e in done.context.step_history if e.step_name == "call_api"]
    assert [(e.attempt, e.status) for e in runs] == [(n, StepStatus.FAILED) for n in (1, 2, 3)]
    assert backoffs == [1, 2]
    assert "done" not in done.data
    assert flaky.hooks == ["failure:ConnectionError"] * 3


async def test_timeout_cancels_the_attempt_and_counts_as_failure(engine: LocalExecutionEngine) -> None:
    cancelled = asyncio.Event()

    class Slow(BaseMachineStep):
        timeout = 0.05

        async def execute(self, context: WorkflowContext) -> None:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.set()
                raise

    started = await engine.start_workflow(chain("timeout", [Slow("slow"), SetStep("end")]))
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert cancelled.is_set()
    last = done.context.step_history[-1]
    assert (last.step_name, last.status) == ("slow", StepStatus.FAILED)
    assert last.error is not None and "timed out after 0.05s" in last.error


async def test_timeout_then_retry_succeeds(engine: LocalExecutionEngine) -> None:
    calls: list[int] = []

    class SlowOnce(BaseMachineStep):
        async def execute(self, context: WorkflowContext) -> str:
            calls.append(context.attempt)
            if context.attempt == 1:
                await asyncio.sleep(10)
            return "fast"

    step = SlowOnce("slow_once", timeout=0.05, max_retries=1)
    started = await engine.start_workflow(chain("timeout_retry", [step, SetStep("end")]))
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert calls == [1, 2]


async def test_failing_on_failure_hook_does_not_break_the_engine(engine: LocalExecutionEngine) -> None:
    class BadHook(BaseMachineStep):
        async def execute(self, context: WorkflowContext) -> None:
            raise ValueError("step error")

        async def on_failure(self, context: WorkflowContext, error: Exception) -> None:
            raise RuntimeError("hook error")

    started = await engine.start_workflow(chain("bad_hook", [BadHook("a"), SetStep("end")]))
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None and "step error" in done.error


async def test_on_success_that_raises_is_a_failed_attempt(engine: LocalExecutionEngine) -> None:
    class BadSuccess(BaseMachineStep):
        async def on_success(self, context: WorkflowContext, result: Any) -> None:
            raise RuntimeError("post-processing broke")

    started = await engine.start_workflow(chain("bad_success", [BadSuccess("a"), SetStep("end")]))
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None and "post-processing broke" in done.error


async def test_can_execute_false_skips_and_continues(engine: LocalExecutionEngine) -> None:
    executed: list[str] = []

    class Optional(BaseMachineStep):
        async def can_execute(self, context: WorkflowContext) -> bool:
            return bool(context.get("wanted"))

        async def execute(self, context: WorkflowContext) -> None:
            executed.append(self.name)
            context.set("optional_ran", True)

    definition = chain("skip", [SetStep("a"), Optional("maybe"), SetStep("end", "done", True)])
    started = await engine.start_workflow(definition, {"wanted": False})
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert executed == []
    assert [(e.step_name, e.status) for e in done.context.step_history] == [
        ("a", StepStatus.SUCCEEDED),
        ("maybe", StepStatus.SKIPPED),
        ("end", StepStatus.SUCCEEDED),
    ]
    assert "optional_ran" not in done.data and done.data["done"] is True

    started = await engine.start_workflow(definition, {"wanted": True})
    done = await engine.wait_for(started.id, timeout=5)
    assert executed == ["maybe"]
    assert done.data["optional_ran"] is True


def test_step_option_validation() -> None:
    with pytest.raises(ValueError, match="needs a name"):
        BaseMachineStep()
    with pytest.raises(ValueError, match="max_retries"):
        BaseMachineStep("x", max_retries=-1)
    step = BaseMachineStep("x", "described", retry_backoff=lambda n: 2.0**n)
    assert step.backoff_for(3) == 8.0
    assert step.description == "described"
    assert repr(step) == "BaseMachineStep(name='x')"
