"""New instance and task ids: random version 4 UUIDs that behave like any other UUID."""

from __future__ import annotations

import os
import pickle
import uuid
from concurrent.futures import ThreadPoolExecutor

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


def test_a_forked_child_does_not_repeat_the_ids_of_its_parent() -> None:
    random_uuid()  # the parent now holds a partly used batch of random bytes
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child, which exits without returning
        try:
            os.write(write_end, "".join(str(random_uuid()) for _ in range(10)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read().decode()
    os.waitpid(child, 0)
    in_child = {uuid.UUID(text[index : index + 36]) for index in range(0, len(text), 36)}
    in_parent = {random_uuid() for _ in range(10)}
    assert len(in_child) == 10
    assert not in_child & in_parent


def test_threads_making_ids_at_once_never_get_the_same_one() -> None:
    def make(_: int) -> list[uuid.UUID]:
        return [random_uuid() for _ in range(5_000)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        made = [value for batch in pool.map(make, range(8)) for value in batch]
    assert len(set(made)) == len(made) == 40_000
