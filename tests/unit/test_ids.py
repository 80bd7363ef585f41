"""New instance and task ids: version 7 UUIDs (time, then random bits) that behave like any other UUID."""

from __future__ import annotations

import os
import pickle
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import msgspec

from litestar_workflows.core.ids import time_ordered_uuid


def test_ids_are_version_7_uuids_equal_to_their_parsed_text() -> None:
    for _ in range(1000):
        made = time_ordered_uuid()
        parsed = uuid.UUID(str(made))
        assert made.version == 7
        assert made.variant == uuid.RFC_4122
        assert made == parsed
        assert hash(made) == hash(parsed)
        assert {made: 1}[parsed] == 1
        assert pickle.loads(pickle.dumps(made)) == made
        assert msgspec.json.decode(msgspec.json.encode(made), type=uuid.UUID) == made


def test_ids_do_not_repeat_and_use_all_random_bits() -> None:
    made = [time_ordered_uuid() for _ in range(20_000)]
    assert len(set(made)) == len(made)
    random_bits = ~(0xF000 << 64 | 0xC000 << 48) & (1 << 80) - 1
    seen = 0
    for value in made:
        seen |= value.int & random_bits
    assert seen == random_bits  # every one of the 74 random bits was set at least once


def test_ids_begin_with_the_millisecond_they_were_made_and_sort_by_it() -> None:
    """What makes them cheap to index: later ids sort after earlier ones, as text and as UUIDs."""
    before = time.time_ns() // 1_000_000
    first = time_ordered_uuid()
    time.sleep(0.002)
    second = time_ordered_uuid()
    after = time.time_ns() // 1_000_000
    assert before <= first.int >> 80 < second.int >> 80 <= after
    assert first < second
    assert str(first) < str(second)
    assert first.bytes < second.bytes


def test_a_forked_child_does_not_repeat_the_ids_of_its_parent() -> None:
    time_ordered_uuid()  # the parent now holds a partly used batch of random bytes
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child, which exits without returning
        try:
            os.write(write_end, "".join(str(time_ordered_uuid()) for _ in range(10)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read().decode()
    os.waitpid(child, 0)
    in_child = {uuid.UUID(text[index : index + 36]) for index in range(0, len(text), 36)}
    in_parent = {time_ordered_uuid() for _ in range(10)}
    assert len(in_child) == 10
    assert not in_child & in_parent


def test_threads_making_ids_at_once_never_get_the_same_one() -> None:
    def make(_: int) -> list[uuid.UUID]:
        return [time_ordered_uuid() for _ in range(5_000)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        made = [value for batch in pool.map(make, range(8)) for value in batch]
    assert len(set(made)) == len(made) == 40_000
