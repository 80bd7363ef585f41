"""On a SQLite file, a lone commit is written on the event loop's thread; everything else as before.

A change that nobody else is committing with is written right away on the loop's own thread
(``SQLiteThreads.write_here``), never waiting for SQLite's lock there: when another connection
holds it, the change goes to the writer thread, and the loop keeps running. Changes arriving
together still share one group transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from litestar_workflows import LocalExecutionEngine, WorkflowRegistry, WorkflowStatus
from litestar_workflows.db import SQLAlchemyPersistence
from litestar_workflows.db import persistence as persistence_module
from litestar_workflows.db.sqlite_threads import SQLiteThreads
from litestar_workflows.db.writer import write_changes
from litestar_workflows.engine.persistence import InstanceChange
from tests.helpers import SetStep, chain


def _engine(path: Path) -> tuple[LocalExecutionEngine, SQLAlchemyPersistence]:
    persistence = SQLAlchemyPersistence(url=f"sqlite+aiosqlite:///{path}", create_all=True)
    registry = WorkflowRegistry()
    registry.register_definition(chain("three", [SetStep("a", "a", 1), SetStep("b", "b", 2), SetStep("c", "c", 3)]))
    return LocalExecutionEngine(registry, persistence), persistence


def _count_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"here": 0, "thread": 0}
    write_here, write = SQLiteThreads.write_here, SQLiteThreads.write

    def counting_here(self: SQLiteThreads, work: Any) -> Any:
        calls["here"] += 1
        return write_here(self, work)

    async def counting_thread(self: SQLiteThreads, work: Any) -> Any:
        calls["thread"] += 1
        return await write(self, work)

    monkeypatch.setattr(SQLiteThreads, "write_here", counting_here)
    monkeypatch.setattr(SQLiteThreads, "write", counting_thread)
    return calls


async def test_a_sequential_workflow_commits_on_the_loop_thread_and_survives_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_calls(monkeypatch)
    path = tmp_path / "lone.sqlite3"
    engine, persistence = _engine(path)
    try:
        started = await engine.start_workflow("three", {"n": 1})
        done = await engine.wait_for(started.id, 10)
    finally:
        await engine.stop(0)
        await persistence.close()
    assert done.status is WorkflowStatus.COMPLETED
    assert calls == {"here": 4, "thread": 0}  # the start and three steps, each written alone

    again, reopened = _engine(path)
    try:
        stored = await again.get_instance(started.id)
    finally:
        await reopened.close()
    assert stored.status is WorkflowStatus.COMPLETED
    assert stored.data == {"n": 1, "a": 1, "b": 2, "c": 3}
    assert [e.step_name for e in stored.context.step_history] == ["a", "b", "c"]


async def test_a_lock_held_elsewhere_sends_the_commit_to_the_writer_thread_and_the_loop_keeps_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_calls(monkeypatch)
    path = tmp_path / "locked.sqlite3"
    engine, persistence = _engine(path)
    await persistence.open(engine.registry)  # creates the tables
    rival = sqlite3.connect(path, isolation_level=None)
    rival.execute("BEGIN IMMEDIATE")  # another writer (say a transactional step's session) holds the lock
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    beating = asyncio.create_task(heartbeat())
    try:
        starting = asyncio.create_task(engine.start_workflow("three"))
        await asyncio.sleep(0.3)
        assert not starting.done()  # waits for the lock...
        assert ticks >= 10  # ...without blocking the event loop
        rival.execute("COMMIT")
        started = await asyncio.wait_for(starting, 10)
        done = await engine.wait_for(started.id, 10)
    finally:
        beating.cancel()
        rival.close()
        await engine.stop(0)
        await persistence.close()
    assert done.status is WorkflowStatus.COMPLETED
    assert calls["thread"] >= 1  # the start went through the writer thread
    assert calls["here"] >= 4  # it tried here first; the steps after it were written here


async def test_changes_arriving_together_still_share_a_group_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups: list[int] = []

    def recording(connection: Any, changes: list[InstanceChange], **options: Any) -> Any:
        groups.append(len(changes))
        return write_changes(connection, changes, **options)

    monkeypatch.setattr(persistence_module, "write_changes", recording)
    engine, persistence = _engine(tmp_path / "groups.sqlite3")
    try:
        started = await asyncio.gather(*(engine.start_workflow("three", {"i": i}) for i in range(50)))
        done = [await engine.wait_for(instance.id, 10) for instance in started]
    finally:
        await engine.stop(0)
        await persistence.close()
    assert all(state.status is WorkflowStatus.COMPLETED for state in done)
    assert sum(groups) == 50 * 4
    assert len(groups) < 50  # 200 changes in far fewer transactions
    assert max(groups) > 10


async def test_closing_waits_for_a_lone_commit_under_way(tmp_path: Path) -> None:
    path = tmp_path / "closing.sqlite3"
    engine, persistence = _engine(path)
    await persistence.open(engine.registry)
    await engine.stop(0)  # no more steps run after the start: only the start's commit matters here
    threads = persistence._threads
    assert threads is not None
    starting = asyncio.create_task(engine.start_workflow("three"))
    await asyncio.sleep(0)  # the start's commit is now giving other tasks their turn
    await persistence.close()
    started = await starting

    assert threads._here is None  # its connection was closed, not left to the garbage collector
    again, reopened = _engine(path)
    try:
        stored = await again.get_instance(started.id)  # and the acknowledged start was stored
    finally:
        await reopened.close()
    assert stored.status is WorkflowStatus.RUNNING
