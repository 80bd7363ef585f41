"""Branch-local data: what a step changed, what a step on a token sees, and the merge of branches.

While several tokens are alive, each keeps what its steps wrote in its own ``delta``; deltas are
merged into the instance data in branch order (first declared branch first, later branches win
on conflicts; a descendant branch's write supersedes its ancestor's), so the outcome never
depends on which branch happened to finish first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from litestar_workflows.core.context import WorkflowContext
from litestar_workflows.core.models import Token, WorkflowInstanceData
from litestar_workflows.core.values import NESTED_TYPES, same_value

__all__ = (
    "Changes",
    "common_prefix",
    "merge_branches",
    "merge_into",
    "record_writes",
    "step_context",
    "view_of",
    "with_changes",
)


@dataclass(slots=True)
class Changes:
    """What a step did to the data it saw: keys set and keys removed."""

    set: dict[str, Any] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)

    @classmethod
    def between(cls, before: dict[str, Any], after: dict[str, Any]) -> Changes:
        """Keys whose value changed (or appeared), and keys that disappeared.

        Scalars are compared by identity (a step that sets a key again set it); dicts and lists by
        content, as steps get copies of them.
        """
        if not before:
            return cls(dict(after), [])
        # Plain loops, not comprehensions: this runs after every step, and on Python 3.11 a
        # comprehension is a function call of its own.
        changed: dict[str, Any] = {}
        earlier = before.get
        for key, value in after.items():
            old = earlier(key, _ABSENT)
            # A dict or list is compared by content: the step worked on a copy of it.
            if old is not value and (type(value) not in NESTED_TYPES or not same_value(old, value)):
                changed[key] = value
        if before.keys() <= after.keys():  # the usual case, checked without a Python-level loop
            return cls(changed, [])
        return cls(changed, [key for key in before if key not in after])


_ABSENT: Any = object()


def view_of(instance: WorkflowInstanceData, token: Token) -> dict[str, Any]:
    """The data a step on ``token`` sees: the instance data plus the token's branch-local writes."""
    data = dict(instance.context.data)
    if token.delta:
        data.update(token.delta)
    for key in token.removed:
        data.pop(key, None)
    return data


def step_context(instance: WorkflowInstanceData, token: Token, data: dict[str, Any]) -> WorkflowContext:
    """A fresh context for running (or evaluating conditions at) ``token``."""
    return instance.context.evolve(data=data, current_step=token.step, attempt=token.attempt, token_id=token.id)


def merge_into(data: dict[str, Any], delta: dict[str, Any], removed: Sequence[str]) -> None:
    data.update(delta)
    for key in removed:
        data.pop(key, None)


def with_changes(data: dict[str, Any], changes: Changes) -> dict[str, Any]:
    """A new dict: ``data`` with ``changes`` applied (``data`` itself is left alone)."""
    merged = dict(data)
    merge_into(merged, changes.set, changes.removed)
    return merged


def record_writes(token: Token, changes: Changes) -> None:
    """Keep ``changes`` in the token's branch-local delta, noting its branch as their writer."""
    branch = token.branch
    writers = token.writers
    token.delta.update(changes.set)
    for key in changes.set:
        writers[key] = branch
    for key in changes.removed:
        writers[key] = branch
        token.delta.pop(key, None)
    if token.removed or changes.removed:
        # ``removed`` is a tuple, shared by copies of the token: replaced, never changed in place.
        removed = [key for key in token.removed if key not in changes.set]
        for key in changes.removed:
            if key not in removed:
                removed.append(key)
        token.removed = tuple(removed)


Branch = tuple[int, ...]
_Part = tuple[dict[str, Any], tuple[str, ...], dict[str, Branch]]


def _supersedes(later: Branch, earlier: Branch) -> bool:
    """True if ``later`` descends from ``earlier``, so its write happened after ``earlier``'s."""
    return len(later) > len(earlier) and later[: len(earlier)] == earlier


def merge_branches(parts: list[_Part]) -> _Part:
    """Merge the (delta, removed, writers) of several branches, independent of their order.

    Per key: writes superseded by a descendant branch's write drop out; of the remaining
    (concurrent) writes, the later-declared branch (greatest branch path) wins.
    """
    options: dict[str, list[tuple[Branch, bool, Any]]] = {}
    for delta, removed, writers in parts:
        for key, value in delta.items():
            options.setdefault(key, []).append((writers.get(key, ()), False, value))
        for key in removed:
            options.setdefault(key, []).append((writers.get(key, ()), True, None))
    merged: dict[str, Any] = {}
    gone: list[str] = []
    merged_writers: dict[str, Branch] = {}
    for key, candidates in options.items():
        paths = [writer for writer, _, _ in candidates]
        latest = [c for c in candidates if not any(_supersedes(path, c[0]) for path in paths)]
        writer, is_removed, value = max(latest, key=lambda candidate: candidate[0])
        merged_writers[key] = writer
        if is_removed:
            gone.append(key)
        else:
            merged[key] = value
    return merged, tuple(gone), merged_writers


def common_prefix(branches: list[tuple[int, ...]]) -> tuple[int, ...]:
    prefix = branches[0]
    for branch in branches[1:]:
        length = 0
        for left, right in zip(prefix, branch, strict=False):
            if left != right:
                break
            length += 1
        prefix = prefix[:length]
    return prefix
