"""SQLite: a start's first step runs while the start is flushed; its caller is answered after the flush.

The first step only needs the start recorded (written to the log: a killed process loses
nothing), not flushed; the caller of ``start_workflow`` is told of the instance, so it is
answered only once the start is on disk. With a slow disk (each flush of the log takes 0.3 s),
the first step runs during the start's flush, and ``start_workflow`` returns after it ends,
with the instance as its start committed it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from litestar_workflows import LocalExecutionEngine, WorkflowContext, WorkflowRegistry, WorkflowStatus
from litestar_workflows.core.exceptions import DatabaseUnavailableError
from litestar_workflows.db import SQLAlchemyPersistence, log_flush
from tests.helpers import FuncStep, SetStep, chain


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[LocalExecutionEngine]:
    persistence = SQLAlchemyPersistence(url=f"sqlite+aiosqlite:///{tmp_path / 'start.sqlite3'}", create_all=True)
    engine = LocalExecutionEngine(WorkflowRegistry(), persistence)
    await engine.start()
    await persistence.list_instances()  # the writer's connection and its log, before the test's flushes
    try:
        yield engine
    finally:
        await engine.stop(0)
        await persistence.close()


async def test_the_first_step_runs_while_the_start_is_flushed(
    engine: LocalExecutionEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    flush = log_flush.LogFile.flush

    def slow(log: log_flush.LogFile) -> None:
        events.append("flush begins")
        time.sleep(0.3)
        flush(log)
        events.append("flush ends")

    async def first(context: WorkflowContext) -> None:
        events.append("first step runs")
        context.set("first", True)

    monkeypatch.setattr(log_flush.LogFile, "flush", slow)
    workflow = chain("recorded", [FuncStep("first", first), SetStep("second", "second", True)])
    started = await engine.start_workflow(workflow, {"n": 1})
    events.append("start answered")

    # The step runs before the start's flush ends (whether before or after the writer thread
    # noted its beginning is up to the threads), and the caller is answered after it.
    first_flush_ends = events.index("flush ends")
    assert events.index("flush begins") < first_flush_ends
    assert events.index("first step runs") < first_flush_ends < events.index("start answered")
    # The answer is the instance as the start committed it, although its first step ran already.
    assert started.current_step == "first"
    assert started.context.step_history == []
    assert "first" not in started.context.data
    done = await engine.wait_for(started.id, timeout=10)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.context.data["first"] is True


async def test_a_start_whose_flush_fails_is_the_callers_error(
    engine: LocalExecutionEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start is not known to be on disk: its caller hears so (a 503 over HTTP), as for any commit."""
    flushes: list[str] = []

    def failing(_log: log_flush.LogFile) -> None:
        flushes.append(threading.current_thread().name)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(log_flush.LogFile, "flush", failing)
    workflow = chain("unflushed", [SetStep("only", "x", 1), SetStep("last", "y", 2)])
    with pytest.raises(DatabaseUnavailableError):
        await engine.start_workflow(workflow)
    assert flushes  # the writer did try to flush the start
