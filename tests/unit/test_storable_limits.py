"""Values no database could store are refused when they are set, the same on every backend.

A NUL character in any string or key, a lone surrogate, lists and objects nested deeper
than ``MAX_NESTING``, or a float that is NaN or infinite: refused by ``ensure_storable`` with
the place named, so a start fails before anything is stored, and a step that sets such a value
fails its attempt (the engine keeps running everything else). Messages the engine records
itself are made storable instead.
"""

from __future__ import annotations

from typing import Any

import pytest

from litestar_workflows import (
    BaseHumanStep,
    InMemoryEventBus,
    InMemoryPersistence,
    LocalExecutionEngine,
    StepStatus,
    WebhookStep,
    WorkflowContext,
    WorkflowRegistry,
    WorkflowStatus,
    WorkflowValidationError,
)
from litestar_workflows.core.values import MAX_NAME_LENGTH, MAX_NESTING, ensure_storable
from tests.helpers import FuncStep, SetStep, chain


def nested(levels: int, inner: Any = 1) -> Any:
    """``inner`` inside ``levels`` lists (built without recursion: any depth)."""
    value = inner
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("a\x00b", "note"),
        ({"inner": ["ok", "bad\x00"]}, "note.inner[1]"),
        ({"inner": {"a\x00": 1}}, "note.inner"),
        ([{"deep": {"deeper": "\x00"}}], "note[0].deep.deeper"),
        ("x\ud800", "note"),
        (float("nan"), "note"),
        ({"ratios": [1.5, float("-inf")]}, "note.ratios[1]"),
    ],
)
def test_nul_characters_and_lone_surrogates_are_refused_naming_the_place(value: Any, where: str) -> None:
    with pytest.raises(WorkflowValidationError) as raised:
        ensure_storable("note", value)
    assert raised.value.fields.keys() == {where}
    assert "'note' cannot be stored" in str(raised.value)


def test_a_key_with_a_nul_character_or_no_string_is_refused_whatever_its_value() -> None:
    for value in (1, None, True, "text", [1]):
        with pytest.raises(WorkflowValidationError, match="NUL"):
            ensure_storable("a\x00b", value)
        with pytest.raises(WorkflowValidationError, match="not a string"):
            ensure_storable(7, value)  # type: ignore[arg-type]  # the check a caller's typing may not make


def test_nesting_is_limited_to_max_nesting_levels_at_any_depth() -> None:
    ensure_storable("deep", nested(MAX_NESTING))
    ensure_storable("deep", {"a": nested(MAX_NESTING - 1)})
    for too_deep in (nested(MAX_NESTING + 1), {"a": nested(MAX_NESTING)}, nested(200_000)):
        with pytest.raises(WorkflowValidationError, match="nested too deeply") as raised:
            ensure_storable("deep", too_deep)  # no RecursionError, however deep
        assert f"at most {MAX_NESTING} levels" in str(raised.value)


@pytest.fixture(params=["lane", "general"])
def any_engine(request: pytest.FixtureRequest) -> LocalExecutionEngine:
    """An in-memory engine: without an event bus steps run in the in-place lane, with one on the general path."""
    bus = InMemoryEventBus() if request.param == "general" else None
    return LocalExecutionEngine(WorkflowRegistry(), InMemoryPersistence(), bus)


async def test_a_start_with_unstorable_data_is_refused_and_stores_nothing(any_engine: LocalExecutionEngine) -> None:
    definition = chain("plain", [SetStep("a", "done", True)])
    bad_starts: list[dict[str, Any]] = [
        {"note": "a\x00"},
        {"a\x00": 1},
        {"items": [{"x": "\x00"}]},
        {"tree": nested(MAX_NESTING + 1)},
        {"ratio": float("inf")},
        {"ratios": [0.5, float("nan")]},
    ]
    for data in bad_starts:
        with pytest.raises(WorkflowValidationError):
            await any_engine.start_workflow(definition, data)
    with pytest.raises(WorkflowValidationError, match="idempotency"):
        await any_engine.start_workflow(definition, {}, metadata={"idempotency\x00": "x"})
    assert await any_engine.persistence.list_instances() == []
    fine = await any_engine.start_workflow(definition, {"tree": nested(MAX_NESTING)})
    assert (await any_engine.wait_for(fine.id, timeout=5)).status is WorkflowStatus.COMPLETED
    await any_engine.stop(0)


async def _sets_nul_through_set(context: WorkflowContext) -> None:
    context.set("note", "a\x00b")


async def _writes_nul_into_data(context: WorkflowContext) -> None:
    context.data["note"] = ["fine", "a\x00b"]


async def _writes_a_nul_key(context: WorkflowContext) -> None:
    context.data["bad\x00key"] = 1


async def _sets_a_deep_value(context: WorkflowContext) -> None:
    context.data["tree"] = nested(MAX_NESTING + 5)


async def _returns_nul(context: WorkflowContext) -> str:
    return "result\x00"


async def _sets_nan_through_set(context: WorkflowContext) -> None:
    context.set("ratio", float("nan"))


async def _writes_infinity_into_data(context: WorkflowContext) -> None:
    context.data["ratio"] = float("inf")


async def _returns_infinity(context: WorkflowContext) -> float:
    return float("-inf")


async def _writes_a_key_that_is_no_string(context: WorkflowContext) -> None:
    context.data[7] = 1  # type: ignore[index]  # what a step must not do: keys are strings


@pytest.mark.parametrize(
    ("write", "fragment"),
    [
        (_sets_nul_through_set, "NUL"),
        (_writes_nul_into_data, "NUL"),
        (_writes_a_nul_key, "NUL"),
        (_sets_a_deep_value, "nested too deeply"),
        (_returns_nul, "NUL"),
        (_sets_nan_through_set, "not a finite number"),
        (_writes_infinity_into_data, "not a finite number"),
        (_returns_infinity, "not a finite number"),
        (_writes_a_key_that_is_no_string, "str"),
    ],
)
async def test_a_step_setting_an_unstorable_value_fails_its_attempt(
    any_engine: LocalExecutionEngine, write: Any, fragment: str
) -> None:
    definition = chain("writer", [SetStep("first", "before", 1), FuncStep("write", write), SetStep("never")])
    started = await any_engine.start_workflow(definition)
    done = await any_engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None and fragment in done.error
    failed = done.context.step_history[-1]
    assert (failed.step_name, failed.status) == ("write", StepStatus.FAILED)
    assert done.data == {"before": 1}  # nothing of the failed attempt was kept
    # The engine keeps working for everything else.
    other = await any_engine.start_workflow(chain("other", [SetStep("only", "ok", "yes")]))
    assert (await any_engine.wait_for(other.id, timeout=5)).data == {"ok": "yes"}
    await any_engine.stop(0)


async def test_an_exception_message_with_a_nul_character_is_recorded_storably(
    any_engine: LocalExecutionEngine,
) -> None:
    async def raise_with_nul(context: WorkflowContext) -> None:
        raise RuntimeError("upstream said \x00 and stopped")

    started = await any_engine.start_workflow(chain("raiser", [FuncStep("call", raise_with_nul)]))
    done = await any_engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.context.step_history[-1].error == "RuntimeError: upstream said \\x00 and stopped"
    assert done.error is not None and done.error.endswith("RuntimeError: upstream said \\x00 and stopped")
    await any_engine.stop(0)


async def test_a_signal_payload_and_a_cancel_reason_with_nul_are_refused(engine: LocalExecutionEngine) -> None:
    definition = chain("hook", [WebhookStep("wait"), SetStep("after", "done", True)])
    started = await engine.start_workflow(definition)
    waiting = await engine.wait_for(started.id, timeout=5)
    assert waiting.status is WorkflowStatus.WAITING
    with pytest.raises(WorkflowValidationError, match="payload"):
        await engine.signal(started.id, "wait", {"answer": "no\x00"})
    with pytest.raises(WorkflowValidationError, match="reason") as raised:
        await engine.cancel_workflow(started.id, "because\x00")
    assert raised.value.fields.keys() == {"reason"}
    still = await engine.get_instance(started.id)
    assert still.status is WorkflowStatus.WAITING and still.cancel_reason is None
    await engine.signal(started.id, "wait", {"answer": "yes"})
    assert (await engine.wait_for(started.id, timeout=5)).status is WorkflowStatus.COMPLETED


async def test_an_assignee_too_long_to_store_refuses_the_start_or_fails_the_instance(
    engine: LocalExecutionEngine,
) -> None:
    too_long = "u" * (MAX_NAME_LENGTH + 1)
    first = chain("review_first", [BaseHumanStep("review", assignee_key="owner"), SetStep("end")])
    with pytest.raises(WorkflowValidationError, match="assignee"):
        await engine.start_workflow(first, {"owner": too_long})
    assert await engine.persistence.list_instances() == []
    started = await engine.start_workflow(first, {"owner": "u" * MAX_NAME_LENGTH})
    assert (await engine.wait_for(started.id, timeout=5)).status is WorkflowStatus.WAITING

    later = chain(
        "review_later", [SetStep("prepare", "owner", too_long), BaseHumanStep("review", assignee_key="owner")]
    )
    started = await engine.start_workflow(later)
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None and "assignee" in done.error and f"{MAX_NAME_LENGTH} characters" in done.error
    assert await engine.get_tasks(instance_id=started.id) == []


async def test_only_finite_floats_are_stored_and_they_survive_a_restart(database_url: str) -> None:
    from litestar_workflows.db import SQLAlchemyPersistence

    registry = WorkflowRegistry()
    definition = chain("ratios", [BaseHumanStep("check")])
    registry.register_definition(definition)
    first = SQLAlchemyPersistence(url=database_url, create_all=True)
    engine = LocalExecutionEngine(registry, first)
    for ratio in (float("nan"), float("inf"), float("-inf")):
        # Before: accepted, and read back after a restart as None (SQLite) or refused by the database.
        with pytest.raises(WorkflowValidationError, match="not a finite number") as raised:
            await engine.start_workflow(definition, {"ratios": {"q1": ratio}})
        assert raised.value.fields.keys() == {"ratios.q1"}
    assert await first.list_instances() == []
    data = {"ratio": 0.1, "share": 12345.678, "tiny": -5e-324, "listed": [2.5, -0.5]}
    kept = await engine.start_workflow(definition, data)
    await engine.wait_for(kept.id, timeout=10)
    await engine.stop(0)
    await first.close()
    second = SQLAlchemyPersistence(url=database_url)
    restarted = LocalExecutionEngine(registry, second)
    assert (await restarted.get_instance(kept.id)).data == data
    await second.close()
