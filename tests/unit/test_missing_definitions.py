"""A runnable token whose definition (or step) is gone is logged with a hint, not a traceback, and left as it was."""

from __future__ import annotations

import asyncio
import logging

import pytest

from litestar_workflows import (
    InMemoryPersistence,
    InProcessDispatcher,
    LocalExecutionEngine,
    WorkflowRegistry,
    WorkflowStatus,
)
from tests.helpers import SetStep, chain
from tests.unit.test_recovery_logging import DEFINITION, _left_running


@pytest.mark.parametrize("change", ["version unregistered", "step renamed"])
async def test_a_token_without_its_definition_is_logged_with_a_hint(
    change: str, caplog: pytest.LogCaptureFixture
) -> None:
    persistence = InMemoryPersistence()
    [instance_id] = await _left_running(persistence, 1)
    registry = WorkflowRegistry()
    if change == "step renamed":  # the same name and version, its first step renamed
        registry.register_definition(chain(DEFINITION.name, [SetStep("first", "a", 1), SetStep("two", "b", 2)]))
    caplog.set_level(logging.INFO, logger="litestar_workflows")

    engine = LocalExecutionEngine(registry, persistence)
    try:
        assert await engine.recover() == 1
        dispatcher = engine.dispatcher
        assert isinstance(dispatcher, InProcessDispatcher)
        while dispatcher.pending:  # the token's task has run and given up
            await asyncio.sleep(0)
    finally:
        await engine.stop(0)

    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.levelno == logging.ERROR
    assert record.exc_info is None
    hint = {
        "version unregistered": "runs version '1' of 'resumable', which this app no longer registers; "
        "register it again to finish its instances",
        "step renamed": "is at step 'one', which version '1' of 'resumable' no longer has",
    }[change]
    assert f"could not run, retrying later: instance {instance_id} {hint}" in record.getMessage()
    state = await persistence.load_instance(instance_id)
    assert state is not None and state.status is WorkflowStatus.RUNNING  # nothing was changed
