"""Cycles guarded by conditions: a review loop through human tasks, and a long machine-only loop."""

from __future__ import annotations

import asyncio

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    Edge,
    LocalExecutionEngine,
    WorkflowContext,
    WorkflowStatus,
)
from litestar_workflows.engine import runner as runner_module
from tests.helpers import CountStep, SetStep, flow


class Increment(BaseMachineStep):
    async def execute(self, context: WorkflowContext) -> int:
        value = int(context.get("counter", 0)) + 1
        context.set("counter", value)
        return value


async def test_reject_revise_resubmit_loop(engine: LocalExecutionEngine) -> None:
    revise = CountStep("revise")
    definition = flow(
        "review_loop",
        [
            SetStep("prepare", "draft", 1),
            BaseHumanStep("submit", form_schema={"type": "object", "properties": {"text": {"type": "string"}}}),
            BaseHumanStep("review", form_schema={"type": "object", "properties": {"approved": {"type": "boolean"}}}),
            revise,
            SetStep("publish", "published", True),
        ],
        [
            ("prepare", "submit"),  # "submit" is entered from two places: a join inside a cycle
            ("submit", "review"),
            Edge("review", "publish", "approved == true"),
            Edge("review", "revise", "approved != true"),
            ("revise", "submit"),
        ],
        "prepare",
        ["publish"],
    )
    started = await engine.start_workflow(definition)
    for round_number in range(3):
        waiting = await engine.wait_for(started.id, timeout=5)
        assert waiting.active_steps == ["submit"], round_number
        await engine.complete_human_task(started.id, "submit", "author", {"text": f"draft {round_number}"})
        waiting = await engine.wait_for(started.id, timeout=5)
        assert waiting.active_steps == ["review"]
        await engine.complete_human_task(started.id, "review", "editor", {"approved": round_number == 2})

    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.data["published"] is True
    assert done.data["text"] == "draft 2"
    assert revise.runs == 2
    names = [e.step_name for e in done.context.step_history]
    assert names.count("submit") == 3 and names.count("review") == 3 and names.count("publish") == 1
    assert len(await engine.get_tasks(started.id, status=None)) == 6


async def test_long_machine_loop_does_not_starve_the_event_loop(engine: LocalExecutionEngine) -> None:
    iterations = 2000
    definition = flow(
        "counter_loop",
        [SetStep("start", "counter", 0), Increment("inc"), SetStep("end")],
        [
            ("start", "inc"),
            Edge("inc", "inc", f"counter < {iterations}"),
            Edge("inc", "end", f"counter >= {iterations}"),
        ],
        "start",
        ["end"],
    )
    ticks = 0
    stop = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    beating = asyncio.create_task(heartbeat())
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, timeout=30)
    stop.set()
    await beating

    assert done.status is WorkflowStatus.COMPLETED
    assert done.data["counter"] == iterations
    assert sum(1 for e in done.context.step_history if e.step_name == "inc") == iterations
    # The other coroutine ran at least once every few steps, not only after the loop ended.
    assert ticks >= iterations // runner_module.STEPS_BETWEEN_YIELDS - 1


class KeyRecorder(BaseMachineStep):
    """Records the idempotency key of every visit and loops three times."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.keys: list[str] = []

    async def execute(self, context: WorkflowContext) -> None:
        self.keys.append(context.idempotency_key)
        context.set("visits", int(context.get("visits", 0)) + 1)


async def test_each_visit_of_a_step_in_a_loop_has_its_own_idempotency_key(engine: LocalExecutionEngine) -> None:
    recorder = KeyRecorder("loop")
    definition = flow(
        "keys",
        [recorder, SetStep("end")],
        [Edge("loop", "loop", "visits < 3"), Edge("loop", "end", "visits >= 3")],
        "loop",
        ["end"],
    )
    started = await engine.start_workflow(definition)
    assert (await engine.wait_for(started.id, timeout=5)).status is WorkflowStatus.COMPLETED
    assert len(recorder.keys) == 3
    assert len(set(recorder.keys)) == 3
    assert all(key.startswith(f"{started.id}:loop:") for key in recorder.keys)
