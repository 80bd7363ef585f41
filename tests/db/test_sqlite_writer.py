"""On a SQLite file, one writer thread writes everything; the event loop never writes (nor flushes to disk).

(The outage test runs both writers: the SQLite thread and PostgreSQL's group-commit task.)

Commits, claims and releases of tasks, leases and the start-up's writes are jobs of one queue,
served in order by the thread ``lsw-sqlite-writer``: commits queued together share a group
transaction, and while another connection holds SQLite's write lock the loop keeps running.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from litestar_workflows import (
    LocalExecutionEngine,
    TaskAlreadyCompletedError,
    WorkflowRegistry,
    WorkflowStatus,
)
from litestar_workflows.core.exceptions import DatabaseUnavailableError
from litestar_workflows.db import SQLAlchemyPersistence, alone, isolation
from litestar_workflows.db import persistence as persistence_module
from litestar_workflows.db.thread_writer import ThreadWriter
from litestar_workflows.db.writer import write_changes
from litestar_workflows.engine.persistence import InstanceChange
from tests.contract.kit import NOW, advanced, completion, create, instance, task
from tests.helpers import SetStep, chain

WRITER = "lsw-sqlite-writer"


def _engine(path: Path) -> tuple[LocalExecutionEngine, SQLAlchemyPersistence]:
    persistence = SQLAlchemyPersistence(url=f"sqlite+aiosqlite:///{path}", create_all=True)
    registry = WorkflowRegistry()
    registry.register_definition(chain("three", [SetStep("a", "a", 1), SetStep("b", "b", 2), SetStep("c", "c", 3)]))
    return LocalExecutionEngine(registry, persistence), persistence


def _threads_of(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[str]:
    """Record the thread each call of ``module.name`` runs on."""
    threads: list[str] = []
    original: Callable[..., Any] = getattr(module, name)

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return threads


async def test_a_sequential_workflow_is_written_by_the_writer_thread_and_survives_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = _threads_of(monkeypatch, isolation, "write_changes")
    path = tmp_path / "lone.sqlite3"
    engine, persistence = _engine(path)
    try:
        started = await engine.start_workflow("three", {"n": 1})
        done = await engine.wait_for(started.id, 10)
    finally:
        await engine.stop(0)
        await persistence.close()
    assert done.status is WorkflowStatus.COMPLETED
    assert writes == [WRITER] * 4  # the start and three steps, each in its own transaction, none on the loop
    assert WRITER not in {thread.name for thread in threading.enumerate()}  # closing ended the thread

    again, reopened = _engine(path)
    try:
        stored = await again.get_instance(started.id)
    finally:
        await reopened.close()
    assert stored.status is WorkflowStatus.COMPLETED
    assert stored.data == {"n": 1, "a": 1, "b": 2, "c": 3}
    assert [e.step_name for e in stored.context.step_history] == ["a", "b", "c"]


async def test_claims_leases_and_the_start_up_go_through_the_same_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claims = _threads_of(monkeypatch, persistence_module, "update_open_task")
    start_up = _threads_of(monkeypatch, persistence_module, "record_definitions")
    engine, persistence = _engine(tmp_path / "claims.sqlite3")
    try:
        await persistence.open(engine.registry)
        owner = instance()
        review = task(owner)
        await create(persistence, owner, opened_tasks=[review])
        await persistence.update_open_task(review.id, claimed_by="bob", if_claimable_by="bob")
        await persistence.update_open_task(review.id, claimed_by=None, if_claimable_by="bob")
        leased = await persistence.claim_runnable("me", NOW, NOW, 10)
    finally:
        await persistence.close()
    assert claims == [WRITER, WRITER]
    assert start_up == [WRITER]
    assert leased == [owner.id]


async def test_jobs_are_written_in_the_order_they_were_queued(tmp_path: Path) -> None:
    """A completion queued before a claim is written first: the claim finds the task completed."""
    _, persistence = _engine(tmp_path / "order.sqlite3")
    try:
        owner = instance()
        review = task(owner)
        await create(persistence, owner, opened_tasks=[review])
        closing = InstanceChange(advanced(owner), 0, closed_tasks=[completion(review.id, by="ann")])
        committed, claimed = await asyncio.gather(
            persistence.commit(closing),
            persistence.update_open_task(review.id, claimed_by="bob", if_claimable_by="bob"),
            return_exceptions=True,
        )
        assert committed is False
        assert isinstance(claimed, TaskAlreadyCompletedError)
        stored = await persistence.get_task(review.id)
        assert stored is not None and stored.claimed_by == "ann"
    finally:
        await persistence.close()


async def test_a_lock_held_elsewhere_makes_the_writer_wait_while_the_loop_keeps_running(tmp_path: Path) -> None:
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


async def test_changes_arriving_together_share_a_group_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups: list[int] = []

    def recording(connection: Any, changes: list[InstanceChange], **options: Any) -> Any:
        groups.append(len(changes))
        return write_changes(connection, changes, **options)

    monkeypatch.setattr(isolation, "write_changes", recording)
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


async def test_closing_writes_the_commits_queued_before_it(tmp_path: Path) -> None:
    path = tmp_path / "closing.sqlite3"
    engine, persistence = _engine(path)
    await persistence.open(engine.registry)
    await engine.stop(0)  # no more steps run after the start: only the start's commit matters here
    starting = asyncio.create_task(engine.start_workflow("three"))
    await asyncio.sleep(0)  # the start's commit is queued
    await persistence.close()
    started = await starting

    again, reopened = _engine(path)
    try:
        stored = await again.get_instance(started.id)  # the acknowledged start was stored
    finally:
        await reopened.close()
    assert stored.status is WorkflowStatus.RUNNING


async def test_an_outage_fails_the_whole_batch_and_the_writer_goes_on(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both writers (the SQLite thread, PostgreSQL's loop task): every commit of the batch gets the outage."""
    persistence = SQLAlchemyPersistence(url=database_url, create_all=True)
    try:
        await persistence.ping()  # ready: tables created
        failures = iter([sqlite3.OperationalError("disk I/O error")])

        def failing_once(write: Callable[..., Any]) -> Callable[..., Any]:
            def run(*args: Any, **options: Any) -> Any:
                error = next(failures, None)
                if error is not None:
                    raise error
                return write(*args, **options)

            return run

        # Whichever writes first: a group transaction, or (PostgreSQL) a commit alone in one statement.
        monkeypatch.setattr(isolation, "write_changes", failing_once(write_changes))
        monkeypatch.setattr(alone, "_execute", failing_once(alone._execute))
        first = instance()
        with pytest.raises(DatabaseUnavailableError):
            await persistence.commit(InstanceChange(first, -1))
        assert await persistence.load_instance(first.id) is None
        second = await create(persistence, instance())  # the writer serves the next commit
        assert await persistence.load_instance(second.id) is not None
    finally:
        await persistence.close()


async def test_a_file_the_writer_cannot_open_is_an_outage_for_its_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, persistence = _engine(tmp_path / "gone.sqlite3")
    try:
        await persistence.ping()
        writer = persistence._writer
        assert isinstance(writer, ThreadWriter)
        writer._connection = None  # as after a connection was lost
        opening = ThreadWriter._open
        failures = iter([sqlite3.OperationalError("unable to open database file")])

        def open_once(self: ThreadWriter) -> Any:
            error = next(failures, None)
            if error is not None:
                raise error
            return opening(self)

        monkeypatch.setattr(ThreadWriter, "_open", open_once)
        with pytest.raises(DatabaseUnavailableError):
            await persistence.commit(InstanceChange(instance(), -1))
        assert await persistence.load_instance((await create(persistence, instance())).id) is not None
    finally:
        await persistence.close()


async def test_a_closed_writer_takes_no_more_jobs(tmp_path: Path) -> None:
    _, persistence = _engine(tmp_path / "closed.sqlite3")
    await persistence.ping()
    writer = persistence._writer
    assert isinstance(writer, ThreadWriter)
    await persistence.close()
    await writer.close()  # closing twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        await writer.commit(InstanceChange(instance(), -1))
    reopened = await create(persistence, instance())  # the persistence itself opens a new writer
    assert await persistence.load_instance(reopened.id) is not None
    await persistence.close()
