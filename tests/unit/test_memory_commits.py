"""What a step's commit stores in memory: exactly what was committed, never a shared live object.

These tests once compared an in-memory lane (the stored state changed in place) with the general
path; the lane is gone (every step is one command applied by the reducer and one commit), and
they keep checking what it had to guarantee: nobody holding an earlier copy, or writing the
instance while a step runs, sees or loses anything; a cancelled or stale attempt records nothing.
Each check runs on ``InMemoryPersistence`` and on a subclass of it, which must behave the same.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from litestar_workflows import (
    BaseMachineStep,
    InMemoryPersistence,
    LocalExecutionEngine,
    WorkflowContext,
    WorkflowInstanceData,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.engine import runner as runner_module
from tests.helpers import FuncStep, SetStep, chain, comparable_state

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class _GeneralPathMemory(InMemoryPersistence):
    """The same store under another class: the engine must not treat the two differently."""

    __slots__ = ()


async def test_the_lease_is_renewed_by_every_step_run_in_place() -> None:
    persistence = InMemoryPersistence()
    ticks = iter(range(1000))

    def clock() -> datetime:
        return NOW + timedelta(seconds=next(ticks))

    engine = LocalExecutionEngine(WorkflowRegistry(), persistence, owner_id="me", clock=clock)
    seen: list[tuple[str, datetime] | None] = []

    async def look(context: WorkflowContext) -> None:
        seen.append(persistence.lease_of(context.instance_id))

    definition = chain("leased", [SetStep("a", "x", 1), FuncStep("b", look), FuncStep("c", look)])
    started = await engine.start_workflow(definition)
    done = await engine.wait_for(started.id, 5)
    assert done.status is WorkflowStatus.COMPLETED
    assert [lease[0] if lease else None for lease in seen] == ["me", "me"]
    assert seen[0] is not None and seen[1] is not None
    assert seen[1][1] > seen[0][1]  # each step's record moved the expiry on, as a commit does
    assert persistence.lease_of(started.id) is None


async def test_copies_handed_out_earlier_do_not_change() -> None:
    persistence = InMemoryPersistence()
    engine = LocalExecutionEngine(WorkflowRegistry(), persistence)
    gate = asyncio.Event()

    async def wait_at_gate(context: WorkflowContext) -> None:
        await gate.wait()
        context.set("b", "done")

    definition = chain("copies", [SetStep("a", "x", 1), FuncStep("b", wait_at_gate), SetStep("c", "y", 2)])
    started = await engine.start_workflow(definition, {"given": True})
    while (await engine.get_instance(started.id)).current_step != "b":
        await asyncio.sleep(0)
    middle = await engine.get_instance(started.id)
    middle_view = comparable_state(middle)

    gate.set()
    done = await engine.wait_for(started.id, 5)

    assert done.status is WorkflowStatus.COMPLETED
    assert done.data == {"given": True, "x": 1, "b": "done", "y": 2}
    assert [e.step_name for e in done.context.step_history] == ["a", "b", "c"]
    assert done.revision == 3
    # What start_workflow and get_instance returned is untouched by the later in-place steps.
    assert started.status is WorkflowStatus.RUNNING
    assert started.data == {"given": True}
    assert started.revision == 0
    assert comparable_state(middle) == middle_view
    assert middle.data == {"given": True, "x": 1}
    assert len(middle.context.step_history) == 1
    # And changing a returned copy does not change the instance.
    done.data["given"] = "tampered"
    done.context.step_history.clear()
    again = await engine.get_instance(started.id)
    assert again.data["given"] is True
    assert len(again.context.step_history) == 3


async def test_a_change_made_while_a_step_runs_is_not_overwritten() -> None:
    """Another writer commits while a step awaits: the step's result goes through a commit on top."""
    persistence = InMemoryPersistence()
    engine = LocalExecutionEngine(WorkflowRegistry(), persistence)
    gate = asyncio.Event()
    entered = asyncio.Event()

    async def slow(context: WorkflowContext) -> None:
        entered.set()
        await gate.wait()
        context.set("slow", True)

    definition = chain("raced", [FuncStep("a", slow), SetStep("b", "b", 1), SetStep("extra", "extra", 1)])
    started = await engine.start_workflow(definition)
    await entered.wait()
    await engine.schedule_step(started.id, "extra")  # a second token, committed while "a" runs
    gate.set()
    done = await engine.wait_for(started.id, 5)

    assert done.status is WorkflowStatus.COMPLETED
    assert done.data == {"slow": True, "b": 1, "extra": 1}
    names = sorted(e.step_name for e in done.context.step_history)
    assert names == ["a", "b", "extra", "extra"]  # scheduled "extra" ran, and "b" moved on to "extra" again


async def test_a_step_cancelled_while_it_runs_records_nothing() -> None:
    persistence = InMemoryPersistence()
    engine = LocalExecutionEngine(WorkflowRegistry(), persistence)
    entered = asyncio.Event()

    async def forever(context: WorkflowContext) -> None:
        entered.set()
        await asyncio.Event().wait()

    definition = chain("cancelled", [SetStep("a", "x", 1), FuncStep("b", forever), SetStep("c", "c", 1)])
    started = await engine.start_workflow(definition)
    await entered.wait()
    cancelled = await engine.cancel_workflow(started.id, "no longer needed")
    for _ in range(5):
        await asyncio.sleep(0)

    stored = await engine.get_instance(started.id)
    assert cancelled.status is stored.status is WorkflowStatus.CANCELED
    assert stored.data == {"x": 1}
    # "b" ran in the same loop as "a": the engine still knew which token was running, and recorded it as cancelled.
    assert [(e.step_name, e.status.value) for e in stored.context.step_history] == [
        ("a", "succeeded"),
        ("b", "canceled"),
    ]
    assert stored.revision == cancelled.revision
    assert engine._runtime == {}  # nothing about the instance is kept once its task ended


async def _cancel_a_long_chain_when_the_loop_is_free(persistence: InMemoryPersistence) -> tuple[Any, ...]:
    engine = LocalExecutionEngine(WorkflowRegistry(), persistence)
    every = runner_module.STEPS_BETWEEN_YIELDS
    names = [f"s{number:02d}" for number in range(3 * every)]
    started = await engine.start_workflow(chain("long", [SetStep(name, name, 1) for name in names]))

    async def cancel_as_soon_as_the_loop_is_free() -> WorkflowInstanceData:
        return await engine.cancel_workflow(started.id, "stop")

    cancelled = await asyncio.create_task(cancel_as_soon_as_the_loop_is_free())
    for _ in range(5):
        await asyncio.sleep(0)
    stored = await engine.get_instance(started.id)
    assert cancelled.status is stored.status is WorkflowStatus.CANCELED
    assert engine._runtime == {}
    return [(e.step_name, e.status.value) for e in stored.context.step_history], set(stored.data)


async def test_a_long_chain_of_steps_stops_where_it_yielded_when_cancelled_meanwhile() -> None:
    """A chain of steps that never await yields every few steps; a cancel in that gap stops it there.

    The next step had not started: no attempt of it is recorded, as on the general path.
    """
    every = runner_module.STEPS_BETWEEN_YIELDS
    names = [f"s{number:02d}" for number in range(every)]
    in_place = await _cancel_a_long_chain_when_the_loop_is_free(InMemoryPersistence())
    assert in_place == ([(name, "succeeded") for name in names], set(names))
    assert in_place == await _cancel_a_long_chain_when_the_loop_is_free(_GeneralPathMemory())


async def test_a_token_run_further_down_the_chain_is_not_run_twice_by_a_duplicate_dispatch() -> None:
    engine = LocalExecutionEngine(WorkflowRegistry(), InMemoryPersistence())
    entered = asyncio.Event()
    gate = asyncio.Event()
    runs: list[str] = []

    async def slow(context: WorkflowContext) -> None:
        runs.append(context.token_id)
        entered.set()
        await gate.wait()

    started = await engine.start_workflow(chain("dup", [SetStep("a", "x", 1), FuncStep("b", slow), SetStep("c")]))
    await entered.wait()
    await engine.run_token(started.id, runs[0])  # "b" is running already: this returns at once
    gate.set()
    done = await engine.wait_for(started.id, 5)

    assert done.status is WorkflowStatus.COMPLETED
    assert runs == [runs[0]]
    assert [e.step_name for e in done.context.step_history] == ["a", "b", "c"]


async def test_two_engines_on_one_store_do_not_advance_one_instance_twice() -> None:
    """A step commits only over the state that is still stored, under this engine's lease."""
    persistence = InMemoryPersistence()
    registry = WorkflowRegistry()
    first = LocalExecutionEngine(registry, persistence, owner_id="first")
    second = LocalExecutionEngine(registry, persistence, owner_id="second")
    definition = chain("shared", [SetStep(name, name, 1) for name in "abcdefgh"])
    ids = [(await first.start_workflow(definition)).id for _ in range(20)]
    await second.recover()  # the leases are first's: nothing to claim
    for instance_id in ids:
        done = await first.wait_for(instance_id, 5)
        assert done.status is WorkflowStatus.COMPLETED
        assert [e.step_name for e in done.context.step_history] == list("abcdefgh")
        assert done.revision == 8


async def _fail_with_timeout_error(persistence: InMemoryPersistence) -> tuple[Any, ...]:
    seen: list[BaseException] = []

    class Upstream(BaseMachineStep):
        async def execute(self, context: WorkflowContext) -> Any:
            raise TimeoutError("upstream timed out")

        async def on_failure(self, context: WorkflowContext, error: Exception) -> None:
            seen.append(error)

    engine = LocalExecutionEngine(WorkflowRegistry(), persistence, clock=lambda: NOW)
    definition = chain("upstream", [SetStep("a", "x", 1), Upstream("b")])
    started = await engine.start_workflow(definition, instance_id=UUID(int=1))
    done = await engine.wait_for(started.id, 5)
    await engine.stop(0)
    return done.status, done.error, [e.error for e in done.context.step_history], [str(e) for e in seen]


async def test_a_timeout_error_raised_by_the_step_itself_is_recorded_as_raised_on_both_paths() -> None:
    """A step without a ``timeout`` whose own code raises ``TimeoutError`` is not "timed out after None s"."""
    in_place = await _fail_with_timeout_error(InMemoryPersistence())
    general = await _fail_with_timeout_error(_GeneralPathMemory())
    assert in_place == general
    status, error, errors, seen = in_place
    assert status is WorkflowStatus.FAILED
    assert error is not None and "TimeoutError: upstream timed out" in error
    assert errors == [None, "TimeoutError: upstream timed out"]
    assert seen == ["upstream timed out"]  # on_failure got the step's own exception


async def test_an_engine_whose_instance_was_taken_over_still_sees_it_finish() -> None:
    """Its lease expired mid-step; another engine ran the instance to its end meanwhile."""
    persistence = InMemoryPersistence()
    registry = WorkflowRegistry()
    now = [NOW]
    slow_run = asyncio.Event()
    release = asyncio.Event()
    runs = 0

    async def slow_the_first_time(context: WorkflowContext) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            slow_run.set()
            await release.wait()
        context.set("slow", runs)

    registry.register_definition(
        chain("taken_over", [FuncStep("slow", slow_the_first_time), SetStep("b", "b", 1), SetStep("c", "c", 1)])
    )
    first = LocalExecutionEngine(registry, persistence, owner_id="first", clock=lambda: now[0], lease_seconds=30)
    second = LocalExecutionEngine(registry, persistence, owner_id="second", clock=lambda: now[0], lease_seconds=30)
    started = await first.start_workflow("taken_over")
    await slow_run.wait()
    now[0] += timedelta(seconds=31)  # the first engine's lease ran out while its step was slow
    assert await second.recover() == 1
    done = await second.wait_for(started.id, 5)
    assert done.status is WorkflowStatus.COMPLETED

    release.set()  # the first engine's attempt ends: its result is dropped, the instance is done
    seen_by_first = await asyncio.wait_for(first.wait_for(started.id), 5)
    assert seen_by_first.status is WorkflowStatus.COMPLETED
    assert seen_by_first.data == {"slow": 2, "b": 1, "c": 1}
    assert [e.step_name for e in seen_by_first.context.step_history] == ["slow", "b", "c"]
    await first.stop(0)
    await second.stop(0)


async def test_closing_the_dispatcher_forgets_tasks_that_never_started() -> None:
    engine = LocalExecutionEngine(WorkflowRegistry(), InMemoryPersistence())
    definition = chain("never_started", [SetStep("a", "x", 1)])
    for _ in range(3):
        await engine.start_workflow(definition)  # each dispatches a task that has not run yet
    dispatcher = engine.dispatcher
    assert getattr(dispatcher, "pending", 0) == 3
    await engine.stop(0)
    assert getattr(dispatcher, "pending", None) == 0


async def _stale_attempt_after_a_takeover(persistence: InMemoryPersistence) -> tuple[Any, ...]:
    """Engine A's lease runs out in a slow step; B takes over and is inside the next step when A's attempt ends."""
    registry = WorkflowRegistry()
    now = [NOW]
    a_inside, a_release, b_inside, b_release = (asyncio.Event() for _ in range(4))
    runs = {"slow": 0, "b": 0}

    def held_up_the_first_time(key: str, inside: asyncio.Event, release: asyncio.Event) -> FuncStep:
        async def run(context: WorkflowContext) -> None:
            runs[key] += 1
            if runs[key] == 1:
                inside.set()
                await release.wait()
            context.set(key, runs[key])

        return FuncStep(key, run)

    slow = held_up_the_first_time("slow", a_inside, a_release)
    second = held_up_the_first_time("b", b_inside, b_release)
    registry.register_definition(chain("t", [slow, second, SetStep("c", "c", 1)]))
    first = LocalExecutionEngine(registry, persistence, owner_id="A", clock=lambda: now[0], lease_seconds=30)
    heir = LocalExecutionEngine(registry, persistence, owner_id="B", clock=lambda: now[0], lease_seconds=30)
    started = await first.start_workflow("t", instance_id=UUID(int=7))
    await a_inside.wait()
    now[0] += timedelta(seconds=31)
    assert await heir.recover() == 1
    await b_inside.wait()  # B ran "slow" again (at-least-once) and moved the token on to "b"
    a_release.set()  # A's stale attempt of "slow" ends now
    for _ in range(20):
        await asyncio.sleep(0)
    b_release.set()
    done = await heir.wait_for(started.id, 5)
    await first.stop(0)
    await heir.stop(0)
    return done.status, done.revision, [e.step_name for e in done.context.step_history], done.data


async def test_a_stale_attempt_of_an_engine_that_lost_its_lease_is_not_recorded_over_the_heirs_progress() -> None:
    in_place = await _stale_attempt_after_a_takeover(InMemoryPersistence())
    assert in_place == (WorkflowStatus.COMPLETED, 3, ["slow", "b", "c"], {"slow": 2, "b": 1, "c": 1})
    assert in_place == await _stale_attempt_after_a_takeover(_GeneralPathMemory())


async def _late_write_through_a_kept_context(persistence: InMemoryPersistence) -> tuple[Any, ...]:
    engine = LocalExecutionEngine(WorkflowRegistry(), persistence)
    kept: list[WorkflowContext] = []

    async def notify(context: WorkflowContext) -> None:
        context.set("notified", "queued")
        kept.append(context)  # as a callback or a background task started by the step would

    started = await engine.start_workflow(chain("kept", [SetStep("a", "x", 1), FuncStep("notify", notify)]))
    done = await engine.wait_for(started.id, 5)
    kept[0].data["notified"] = object()
    kept[0].data["late"] = True
    stored = await persistence.load_instance(started.id)
    assert stored is not None
    await engine.stop(0)
    return done.status, stored.revision, stored.data


async def test_a_step_writing_through_its_context_after_it_returned_changes_nothing_stored() -> None:
    in_place = await _late_write_through_a_kept_context(InMemoryPersistence())
    assert in_place == (WorkflowStatus.COMPLETED, 2, {"x": 1, "notified": "queued"})
    assert in_place == await _late_write_through_a_kept_context(_GeneralPathMemory())


@pytest.mark.parametrize("persistence_class", [InMemoryPersistence, _GeneralPathMemory])
async def test_a_failed_attempt_whose_data_refers_back_to_its_context_is_freed(
    persistence_class: type[InMemoryPersistence],
) -> None:
    """Contexts are not tracked by the garbage collector: a reference cycle through one would leak."""

    class Marker:
        pass

    alive: list[weakref.ref[Marker]] = []

    async def fail_keeping_the_error(context: WorkflowContext) -> None:
        marker = Marker()
        alive.append(weakref.ref(marker))
        try:
            raise RuntimeError("boom")
        except RuntimeError as exc:
            context.data["last_error"] = exc  # the traceback holds this frame, and so the context
            context.data["marker"] = marker
            raise

    engine = LocalExecutionEngine(WorkflowRegistry(), persistence_class())
    definition = chain("fails", [FuncStep("a", fail_keeping_the_error)])
    for _ in range(10):
        started = await engine.start_workflow(definition)
        assert (await engine.wait_for(started.id, 5)).status is WorkflowStatus.FAILED
    await engine.stop(0)
    gc.collect()
    assert len(alive) == 10
    assert [ref for ref in alive if ref() is not None] == []
