"""Starting an engine logs, at INFO, how many instances it resumed (whoever starts it)."""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

import pytest

from litestar_workflows import (
    InMemoryPersistence,
    LocalExecutionEngine,
    WorkflowPlugin,
    WorkflowPluginConfig,
    WorkflowRegistry,
    WorkflowStatus,
)
from tests.helpers import SetStep, chain

DEFINITION = chain("resumable", [SetStep("one", "a", 1), SetStep("two", "b", 2)])


class _LostDispatcher:
    """Takes tokens and runs none: the process died before running what it committed."""

    def dispatch(self, instance_id: UUID, token_id: str, not_before: datetime | None = None) -> None:
        return None

    async def close(self, grace_period: float = 0.0) -> None:
        return None


async def _left_running(persistence: InMemoryPersistence, count: int) -> list[UUID]:
    """``count`` committed instances with a runnable step nobody runs, their leases released."""
    crashed = LocalExecutionEngine(WorkflowRegistry(), persistence, dispatcher=_LostDispatcher())
    ids = [(await crashed.start_workflow(DEFINITION)).id for _ in range(count)]
    await crashed.stop(0)
    return ids


def _resumed_messages(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    return [(r.name, r.levelno, r.getMessage()) for r in caplog.records if "resumed" in r.getMessage()]


async def test_engine_start_logs_the_instances_it_resumed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="litestar_workflows")
    persistence = InMemoryPersistence()
    ids = await _left_running(persistence, 2)

    registry = WorkflowRegistry()
    registry.register_definition(DEFINITION)
    engine = LocalExecutionEngine(registry, persistence)
    try:
        assert await engine.start() == 2
        for instance_id in ids:
            assert (await engine.wait_for(instance_id, timeout=5)).status is WorkflowStatus.COMPLETED
    finally:
        await engine.stop(0)
    assert _resumed_messages(caplog) == [
        (
            "litestar_workflows.engine",
            logging.INFO,
            "resumed 2 workflow instance(s) left running by a stopped or crashed engine",
        )
    ]


async def test_nothing_to_resume_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="litestar_workflows")
    engine = LocalExecutionEngine(WorkflowRegistry(), InMemoryPersistence())
    try:
        assert await engine.start() == 0
    finally:
        await engine.stop(0)
    assert _resumed_messages(caplog) == []


async def test_a_worker_running_the_plugins_engine_logs_what_it_resumed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="litestar_workflows")
    persistence = InMemoryPersistence()
    [instance_id] = await _left_running(persistence, 1)
    plugin = WorkflowPlugin(WorkflowPluginConfig(workflows=[DEFINITION], persistence=persistence))

    async with plugin.run_engine() as engine:
        assert (await engine.wait_for(instance_id, timeout=5)).status is WorkflowStatus.COMPLETED
    assert [(name, level) for name, level, _ in _resumed_messages(caplog)] == [
        ("litestar_workflows.engine", logging.INFO)  # once: the plugin adds no second line
    ]
