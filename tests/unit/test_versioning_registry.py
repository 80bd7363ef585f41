"""Versions: instances stay on the version they started with; latest is chosen semantically."""

from __future__ import annotations

from typing import ClassVar

import pytest

from litestar_workflows import (
    BaseHumanStep,
    LocalExecutionEngine,
    WorkflowDefinition,
    WorkflowNotFoundError,
    WorkflowRegistry,
    WorkflowStatus,
    WorkflowValidationError,
)
from litestar_workflows.engine.registry import version_key
from tests.helpers import SetStep, chain


def versioned(version: str, marker: str) -> WorkflowDefinition:
    return chain(
        "expense",
        [SetStep("submit"), BaseHumanStep("approve"), SetStep("finish", "version_used", marker)],
        version=version,
    )


async def test_instance_keeps_its_version(engine: LocalExecutionEngine, registry: WorkflowRegistry) -> None:
    registry.register_definition(versioned("1.0.0", "v1"))
    old = await engine.start_workflow("expense")
    assert old.workflow_version == "1.0.0"
    await engine.wait_for(old.id, timeout=5)

    # v2 renames the human step: an instance still on v1 must keep running v1's steps.
    v2 = chain("expense", [SetStep("submit"), BaseHumanStep("review"), SetStep("done", "version_used", "v2")], "2.0.0")
    registry.register_definition(v2)
    new = await engine.start_workflow("expense")
    assert new.workflow_version == "2.0.0"

    await engine.complete_human_task(old.id, "approve", "ann", {})
    old_done = await engine.wait_for(old.id, timeout=5)
    assert old_done.status is WorkflowStatus.COMPLETED
    assert old_done.data["version_used"] == "v1"
    assert [e.step_name for e in old_done.context.step_history] == ["submit", "approve", "finish"]

    await engine.complete_human_task(new.id, "review", "ann", {})
    assert (await engine.wait_for(new.id, timeout=5)).data["version_used"] == "v2"


async def test_start_by_name_with_version(engine: LocalExecutionEngine, registry: WorkflowRegistry) -> None:
    registry.register_definition(versioned("1.0.0", "v1"))
    registry.register_definition(versioned("1.1.0", "v1.1"))
    started = await engine.start_workflow("expense", version="1.0.0")
    assert started.workflow_version == "1.0.0"
    assert started.context.metadata == {"workflow_name": "expense", "workflow_version": "1.0.0"}
    with pytest.raises(WorkflowNotFoundError, match=r"'9\.9'"):
        await engine.start_workflow("expense", version="9.9")


def test_latest_version_is_semantic(registry: WorkflowRegistry) -> None:
    for version in ("9.0.0", "10.0.0", "2.5.1", "10.0.0-rc1"):
        registry.register_definition(versioned(version, version))
    assert registry.get_definition("expense").version == "10.0.0"
    assert registry.get_versions("expense") == ["2.5.1", "9.0.0", "10.0.0-rc1", "10.0.0"]
    assert [d.version for d in registry.list_definitions(active_only=True)] == ["10.0.0"]
    assert len(registry.list_definitions()) == 4
    assert version_key("v1.2") == version_key("1.2")
    assert version_key("1.10") > version_key("1.9")


def test_registry_lookup_and_unregister(registry: WorkflowRegistry) -> None:
    first, second = versioned("1", "a"), versioned("2", "b")
    registry.register_definition(first)
    registry.register_definition(first)  # the same object again is a no-op
    registry.register_definition(second)
    assert registry.has_workflow("expense")
    assert registry.has_workflow("expense", "2")
    assert not registry.has_workflow("expense", "3")
    assert not registry.has_workflow("other")

    with pytest.raises(WorkflowValidationError, match="already registered"):
        registry.register_definition(versioned("1", "different"))
    replacement = versioned("1", "different")
    registry.register_definition(replacement, replace=True)
    assert registry.get_definition("expense", "1") is replacement

    assert registry.get_definition("expense") is second
    newer_second = versioned("2", "newer")
    registry.register_definition(newer_second, replace=True)
    assert registry.get_definition("expense") is newer_second  # the latest follows a replacement

    registry.unregister("expense", "2")
    assert registry.get_versions("expense") == ["1"]
    assert registry.get_definition("expense") is replacement  # and falls back when the latest goes
    registry.unregister("expense", "1")
    assert not registry.has_workflow("expense")
    with pytest.raises(WorkflowNotFoundError):
        registry.get_definition("expense")
    with pytest.raises(WorkflowNotFoundError):
        registry.get_versions("expense")
    with pytest.raises(WorkflowNotFoundError):
        registry.unregister("expense")

    registry.register_definition(first)
    registry.unregister("expense")
    assert registry.list_definitions() == []


class Onboarding:
    name = "onboarding"
    version = "3"
    description = "Onboard a new hire"
    built: ClassVar[int] = 0

    @classmethod
    def get_definition(cls) -> WorkflowDefinition:
        cls.built += 1
        return chain(cls.name, [SetStep("welcome", "welcomed", True)], cls.version)


async def test_workflow_classes(engine: LocalExecutionEngine, registry: WorkflowRegistry) -> None:
    definition = registry.register(Onboarding)
    assert definition.name == "onboarding"
    assert registry.get_workflow_class("onboarding") is Onboarding
    with pytest.raises(TypeError, match="get_definition"):
        registry.register(int)

    started = await engine.start_workflow(Onboarding)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.data == {"welcomed": True}
    assert done.workflow_version == "3"

    registry.register_definition(chain("plain", [SetStep("a")]))
    with pytest.raises(WorkflowNotFoundError):
        registry.get_workflow_class("plain")


async def test_starting_a_class_registers_it(engine: LocalExecutionEngine, registry: WorkflowRegistry) -> None:
    started = await engine.start_workflow(Onboarding)
    assert registry.get_workflow_class("onboarding", "3") is Onboarding
    assert (await engine.wait_for(started.id, timeout=5)).status is WorkflowStatus.COMPLETED


async def test_starting_an_unregistered_clash_is_refused(
    engine: LocalExecutionEngine, registry: WorkflowRegistry
) -> None:
    registry.register_definition(versioned("1", "registered"))
    with pytest.raises(WorkflowValidationError, match="another definition"):
        await engine.start_workflow(versioned("1", "impostor"))
    assert engine.get_all_instances() == []


async def test_a_caller_chosen_instance_id_makes_starting_idempotent(engine: LocalExecutionEngine) -> None:
    from uuid import NAMESPACE_URL, uuid5

    from litestar_workflows.core.exceptions import InstanceAlreadyExistsError

    definition = chain("idempotent_start", [SetStep("only", "ran", True)])
    chosen = uuid5(NAMESPACE_URL, "client-key-42")
    first = await engine.start_workflow(definition, {"n": 1}, instance_id=chosen, metadata={"origin": "api"})
    assert first.id == chosen
    with pytest.raises(InstanceAlreadyExistsError):
        await engine.start_workflow(definition, {"n": 2}, instance_id=chosen)
    done = await engine.wait_for(chosen, timeout=5)
    assert done.data == {"n": 1, "ran": True}
    assert done.context.metadata["origin"] == "api"
    assert len(engine.get_all_instances()) == 1
