"""Fixtures: a registry, in-memory persistence, an event bus and an engine stopped after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from litestar_workflows import InMemoryEventBus, InMemoryPersistence, LocalExecutionEngine, WorkflowRegistry


@pytest.fixture
def registry() -> WorkflowRegistry:
    return WorkflowRegistry()


@pytest.fixture
def persistence() -> InMemoryPersistence:
    return InMemoryPersistence()


@pytest.fixture
def event_bus() -> InMemoryEventBus:
    return InMemoryEventBus()


@pytest.fixture
async def engine(
    registry: WorkflowRegistry, persistence: InMemoryPersistence, event_bus: InMemoryEventBus
) -> AsyncIterator[LocalExecutionEngine]:
    engine = LocalExecutionEngine(registry, persistence, event_bus)
    yield engine
    await engine.stop(0)
