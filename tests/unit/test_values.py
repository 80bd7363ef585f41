"""Which context values are storable, and their JSON round-trip."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest

from litestar_workflows import (
    BaseMachineStep,
    LocalExecutionEngine,
    WorkflowContext,
    WorkflowStatus,
    WorkflowValidationError,
)
from litestar_workflows.core.values import decode_value, encode_value, ensure_storable
from tests.helpers import chain


class Customer(msgspec.Struct):
    name: str


RICH: dict[str, Any] = {
    "when": dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC),
    "naive": dt.datetime(2024, 5, 1, 12, 30),  # noqa: DTZ001 - naive values must round-trip naive
    "day": dt.date(2024, 5, 1),
    "at": dt.time(9, 15, 30),
    "id": UUID("12345678-1234-5678-1234-567812345678"),
    "price": Decimal("19.990"),
    "nested": {"items": [Decimal("1.5"), {"deep": uuid4()}], "flag": True, "none": None},
    "tuple": ("a", 1),
    "float": 1.25,
}


def test_round_trip_through_json() -> None:
    encoded = encode_value(RICH)
    text = json.dumps(encoded)
    decoded = decode_value(json.loads(text))
    expected = dict(RICH, tuple=["a", 1])  # tuples come back as lists
    assert decoded == expected
    assert type(decoded["price"]) is Decimal and str(decoded["price"]) == "19.990"
    assert decoded["when"].tzinfo is not None and decoded["naive"].tzinfo is None
    assert type(decoded["day"]) is dt.date
    assert encoded["id"] == {"$lsw": "uuid", "v": "12345678-1234-5678-1234-567812345678"}


def test_plain_dicts_that_look_tagged_are_left_alone() -> None:
    assert decode_value({"$lsw": "unknown", "v": "x"}) == {"$lsw": "unknown", "v": "x"}
    assert decode_value({"$lsw": "uuid", "v": "x", "extra": 1}) == {"$lsw": "uuid", "v": "x", "extra": 1}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (Customer("ann"), "Customer"),
        ({1, 2}, "set"),
        (object(), "object"),
        (b"bytes", "bytes"),
        ({"inner": [1, {2}]}, "key.inner[1]"),
        ({1: "int key"}, "non-string key"),
        ({"$lsw": "x"}, "reserved"),
    ],
)
def test_unstorable_values_are_refused_naming_the_key(value: Any, fragment: str) -> None:
    with pytest.raises(WorkflowValidationError) as raised:
        ensure_storable("key", value)
    assert "'key'" in str(raised.value)
    assert fragment in str(raised.value)


def test_encode_refuses_what_cannot_be_stored() -> None:
    with pytest.raises(WorkflowValidationError):
        encode_value({"s": {1}})


async def test_context_set_accepts_and_refuses(engine: LocalExecutionEngine) -> None:
    refused: list[str] = []

    class Writer(BaseMachineStep):
        async def execute(self, context: WorkflowContext) -> None:
            for key, value in RICH.items():
                context.set(key, value)
            for key, bad in (("customer", Customer("ann")), ("tags", {"a"}), ("thing", object())):
                try:
                    context.set(key, bad)
                except WorkflowValidationError as exc:
                    refused.append(str(exc))

    started = await engine.start_workflow(chain("values", [Writer("write")]))
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.COMPLETED
    assert {key: done.data[key] for key in RICH} == RICH
    assert len(refused) == 3
    assert "'customer'" in refused[0] and "'tags'" in refused[1] and "'thing'" in refused[2]
    assert not {"customer", "tags", "thing"} & done.data.keys()


async def test_unstorable_step_result_fails_the_step(engine: LocalExecutionEngine) -> None:
    class ReturnsStruct(BaseMachineStep):
        async def execute(self, context: WorkflowContext) -> Customer:
            return Customer("ann")

    started = await engine.start_workflow(chain("bad_result", [ReturnsStruct("a"), ReturnsStruct("b")]))
    done = await engine.wait_for(started.id, timeout=5)
    assert done.status is WorkflowStatus.FAILED
    assert done.error is not None and "'result'" in done.error and "Customer" in done.error
