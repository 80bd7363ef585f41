"""Several engines on one store: leases decide who advances an instance; recovery takes over.

On SQL each engine has a persistence object of its own (like another process); in memory they
share the one store.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    Edge,
    InProcessDispatcher,
    LocalExecutionEngine,
    StepDispatcher,
    StepStatus,
    TransactionalStep,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowInstanceData,
    WorkflowPersistence,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.db import SQLAlchemyPersistence
from tests.contract.kit import Backend


class Gate(BaseMachineStep):
    """Blocks until ``opened`` is set; counts how many times it started."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.opened = asyncio.Event()
        self.started = 0

    async def execute(self, context: WorkflowContext) -> Any:
        self.started += 1
        await self.opened.wait()
        context.set(self.name, "done")
        return self.started


class Mark(BaseMachineStep):
    async def execute(self, context: WorkflowContext) -> Any:
        context.set(self.name, True)
        return self.name


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class HeldDispatches:
    """A dispatcher that keeps what it is given until :meth:`release` hands it to the real one."""

    def __init__(self, inner: StepDispatcher) -> None:
        self.inner = inner
        self.held: list[tuple[UUID, str, datetime | None]] = []
        self.holding = True

    def dispatch(self, instance_id: UUID, token_id: str, not_before: datetime | None = None) -> None:
        if self.holding:
            self.held.append((instance_id, token_id, not_before))
        else:
            self.inner.dispatch(instance_id, token_id, not_before)

    async def release(self) -> None:
        """Dispatch what was held, and wait (bounded) until those tokens ran."""
        self.holding = False
        for item in self.held:
            self.inner.dispatch(*item)
        assert isinstance(self.inner, InProcessDispatcher)
        for _ in range(2000):
            if not self.inner.pending:
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the released tokens never finished")

    async def close(self, grace_period: float = 0.0) -> None:
        await self.inner.close(grace_period)


async def _history_of(store: WorkflowPersistence, instance_id: UUID, length: int) -> WorkflowInstanceData:
    """The stored instance once its history has ``length`` entries (a bounded wait)."""
    for _ in range(2000):
        stored = await store.load_instance(instance_id)
        if stored is not None and len(stored.context.step_history) >= length:
            return stored
        await asyncio.sleep(0.005)
    raise AssertionError("the step was never recorded")


async def _started(gate: Gate, times: int = 1) -> None:
    """Wait (bounded) until ``gate``'s step has started ``times`` times."""
    for _ in range(2000):
        if gate.started >= times:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"the gate started {gate.started} times, not {times}")


def gated(gate: Gate) -> WorkflowDefinition:
    return WorkflowDefinition(
        "gated", "1", "", {"gate": gate, "after": Mark("after")}, [Edge("gate", "after")], "gate", {"after"}
    )


def _engines(backend: Backend, registry: WorkflowRegistry, *owners: str, **options: Any) -> list[LocalExecutionEngine]:
    """One engine per owner, each on a persistence object of its own (on SQL: like separate processes)."""
    return [LocalExecutionEngine(registry, backend.another(), owner_id=owner, **options) for owner in owners]


async def test_a_leased_instance_is_not_claimed_by_another_engine(backend: Backend) -> None:
    registry, gate = WorkflowRegistry(), Gate("gate")
    registry.register_definition(gated(gate))
    first, second = _engines(backend, registry, "first", "second")
    instance = await first.start_workflow("gated")
    await _started(gate)
    assert await second.recover() == 0
    lease = await backend.lease_of(first.persistence, instance.id)
    assert lease is not None and lease[0] == "first"
    gate.opened.set()
    done = await first.wait_for(instance.id, timeout=10)
    assert done.status is WorkflowStatus.COMPLETED
    assert gate.started == 1
    assert await backend.lease_of(first.persistence, instance.id) is None  # released once nothing is left to run
    await first.stop(0)
    await second.stop(0)


async def test_a_stopped_engine_hands_its_work_over_at_once(backend: Backend) -> None:
    registry, gate = WorkflowRegistry(), Gate("gate")
    registry.register_definition(gated(gate))
    first, second = _engines(backend, registry, "first", "second")
    instance = await first.start_workflow("gated")
    await _started(gate)
    await first.stop(0)  # the running step is cancelled; its token stays committed as READY
    gate.opened.set()
    assert await second.start() == 1
    done = await second.wait_for(instance.id, timeout=10)
    assert done.status is WorkflowStatus.COMPLETED
    assert [e.step_name for e in done.context.step_history] == ["gate", "after"]
    await second.stop(0)


async def test_work_of_a_dead_engine_is_taken_over_after_its_lease_expires(backend: Backend) -> None:
    registry, gate, clock = WorkflowRegistry(), Gate("gate"), FakeClock()
    registry.register_definition(gated(gate))
    dead, heir = _engines(backend, registry, "dead", "heir", clock=clock, lease_seconds=30)
    instance = await dead.start_workflow("gated")
    await _started(gate)
    await dead.dispatcher.close(0)  # "kill": its tasks vanish, its lease is not released
    assert await heir.recover() == 0  # the lease is still valid
    clock.now += timedelta(seconds=31)
    gate.opened.set()
    assert await heir.recover() == 1
    done = await heir.wait_for(instance.id, timeout=10)
    assert done.status is WorkflowStatus.COMPLETED
    assert gate.started == 2  # at-least-once: the interrupted attempt ran again
    await heir.stop(0)


def _split(gate: Gate) -> WorkflowDefinition:
    return WorkflowDefinition(
        "split",
        "1",
        "",
        {
            "fork": Mark("fork"),
            "slow": gate,
            "approve": BaseHumanStep("approve", "Approve"),
            "after_approval": Mark("after_approval"),
            "join": Mark("join"),
        },
        [
            Edge("fork", "slow"),
            Edge("fork", "approve"),
            Edge("approve", "after_approval"),
            Edge("slow", "join"),
            Edge("after_approval", "join"),
        ],
        "fork",
        {"join"},
    )


async def test_task_completed_elsewhere_is_run_by_the_lease_holder(backend: Backend) -> None:
    """Branch A is running on engine one; engine two completes the task of branch B."""
    registry, gate = WorkflowRegistry(), Gate("slow")
    registry.register_definition(_split(gate))
    one, two = _engines(backend, registry, "one", "two")
    instance = await one.start_workflow("split")
    await _started(gate)
    await two.complete_human_task(instance.id, "approve", "bob", {})
    state = await two.get_instance(instance.id)
    assert "after_approval" in state.active_steps  # two does not run it: one holds the lease
    gate.opened.set()
    done = await one.wait_for(instance.id, timeout=10)
    assert done.status is WorkflowStatus.COMPLETED
    steps = [e.step_name for e in done.context.step_history]
    assert sorted(steps) == sorted(["fork", "slow", "approve", "after_approval", "join"])
    assert steps.count("join") == 1
    await one.stop(0)
    await two.stop(0)


class Ledger(TransactionalStep):
    def __init__(self, name: str, fail_times: int = 0) -> None:
        super().__init__(name, max_retries=fail_times)
        self.fail_times = fail_times
        self.sessions: list[object] = []

    async def execute(self, context: WorkflowContext) -> Any:
        self.sessions.append(context.session)
        if len(self.sessions) <= self.fail_times:
            raise RuntimeError("ledger unavailable")
        context.set("booked", True)
        return "booked"


async def test_a_transactional_step_records_failures_and_retries(backend: Backend, store: WorkflowPersistence) -> None:
    registry = WorkflowRegistry()
    ledger = Ledger("ledger", fail_times=1)
    registry.register_definition(
        WorkflowDefinition(
            "tx", "1", "", {"ledger": ledger, "end": Mark("end")}, [Edge("ledger", "end")], "ledger", {"end"}
        )
    )
    engine = LocalExecutionEngine(registry, store)
    instance = await engine.start_workflow("tx")
    done = await engine.wait_for(instance.id, timeout=10)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.context.data["booked"] is True
    history = [(e.step_name, e.status, e.attempt) for e in done.context.step_history]
    assert history == [
        ("ledger", StepStatus.FAILED, 1),
        ("ledger", StepStatus.SUCCEEDED, 2),
        ("end", StepStatus.SUCCEEDED, 1),
    ]
    if isinstance(store, SQLAlchemyPersistence):
        assert all(session is not None for session in ledger.sessions)  # each attempt in a transaction of its own
        assert ledger.sessions[0] is not ledger.sessions[1]
    else:
        assert ledger.sessions == [None, None]  # in memory there is no database session
    await engine.stop(0)


async def test_a_step_committed_late_by_an_engine_whose_lease_expired_is_run_on_by_the_new_holder(
    backend: Backend,
) -> None:
    """The heir claimed the instance, but the old holder's attempt ended and was committed first.

    The heir's dispatched token is gone by then (its attempt of it is refused by the revision
    check) and the next one was committed by an engine that no longer holds the lease: the
    heir's next claim finds it and runs the instance to its end.
    """
    registry, clock, gate = WorkflowRegistry(), FakeClock(), Gate("gate")
    registry.register_definition(gated(gate))
    old, heir = _engines(backend, registry, "old", "heir", clock=clock, lease_seconds=30)
    held = HeldDispatches(heir.dispatcher)
    heir.dispatcher = held
    instance = await old.start_workflow("gated")
    await _started(gate)
    clock.now += timedelta(seconds=31)
    assert await heir.recover() == 1  # the heir claims the instance and dispatches "gate" (held back here)...
    gate.opened.set()  # ...then the old attempt ends and is committed before the heir's task runs
    stored = await _history_of(heir.persistence, instance.id, 1)
    assert [(e.step_name, e.result) for e in stored.context.step_history] == [("gate", 1)]  # the old attempt's
    assert [token.step for token in stored.tokens] == ["after"]
    lease = await backend.lease_of(heir.persistence, instance.id)
    assert lease is not None and lease[0] == "heir"
    await held.release()  # the heir runs "gate" from the state it claimed; its commit is refused (revision)

    assert await heir.recover() == 1  # its next claim (every poll_interval), with the lease still valid
    done = await heir.wait_for(instance.id, timeout=10)
    assert done.status is WorkflowStatus.COMPLETED
    assert [e.step_name for e in done.context.step_history] == ["gate", "after"]  # the stale attempt left no trace
    assert gate.started == 2  # at least once: the heir ran the step again from the state it had claimed
    await old.stop(0)
    await heir.stop(0)
