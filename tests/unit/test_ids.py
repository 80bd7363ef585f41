"""New instance and task ids: random version 4 UUIDs that behave like any other UUID."""

from __future__ import annotations

import pickle
import uuid

import msgspec

from litestar_workflows.core.ids import random_uuid


def test_ids_are_version_4_uuids_equal_to_their_parsed_text() -> None:
    for _ in range(1000):
        made = random_uuid()
        parsed = uuid.UUID(str(made))
        assert made.version == 4
        assert made.variant == uuid.RFC_4122
        assert made == parsed
        assert hash(made) == hash(parsed)
        assert {made: 1}[parsed] == 1
        assert pickle.loads(pickle.dumps(made)) == made
        assert msgspec.json.decode(msgspec.json.encode(made), type=uuid.UUID) == made


def test_ids_do_not_repeat_and_use_all_random_bits() -> None:
    made = [random_uuid() for _ in range(20_000)]
    assert len(set(made)) == len(made)
    random_bits = ~(0xF000 << 64 | 0xC000 << 48) & (1 << 128) - 1
    seen = 0
    for value in made:
        seen |= value.int & random_bits
    assert seen == random_bits  # every one of the 122 random bits was set at least once
