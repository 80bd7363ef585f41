"""The durable state of an instance: what the persistence layer stores and loads.

Everything the engine needs to resume an instance after a crash lives in these objects and is
written through ``WorkflowPersistence``; the engine keeps no state of its own beyond caches.
They are ``msgspec.Struct``s: the engine builds several per step, and a Struct is built (and
copied) about three times faster than a slotted dataclass.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from litestar_workflows.core.context import WorkflowContext
from litestar_workflows.core.types import TaskStatus, TokenStatus, WorkflowStatus
from litestar_workflows.core.values import private_copy

__all__ = ("BranchData", "HumanTaskData", "Token", "WorkflowInstanceData")

Branch = tuple[int, ...]


class Token(msgspec.Struct, gc=False):
    """One thread of execution positioned on a step.

    ``branch`` is the path of fork choices that led here (``(0, 2)``: third branch of a fork
    inside the first branch of an earlier fork). While several tokens are alive, each keeps the
    data its steps wrote in ``delta``, and who wrote each key in ``writers``; deltas merge when
    the branches join or the instance ends, so the result never depends on timing: a write by a
    descendant branch supersedes its ancestor's, and of concurrent writes the later-declared
    branch wins.

    Not tracked by the garbage collector (``gc=False``): a token holds strings, numbers and the
    branch's storable values, none of which can lead back to it, so it is never part of a
    reference cycle, and live instances keep thousands of them.
    """

    id: str
    step: str
    status: TokenStatus = TokenStatus.READY
    branch: Branch = ()
    delta: dict[str, Any] = {}
    removed: tuple[str, ...] = ()
    not_before: datetime | None = None
    """A READY token is not run before this time (timers, retry backoff)."""
    attempt: int = 1
    """Number of the next attempt (1 + failed attempts recorded so far)."""
    task_id: UUID | None = None
    """The open human task this WAITING token belongs to."""
    writers: dict[str, Branch] = {}
    """For each key in ``delta`` or ``removed``, the branch that wrote it (to merge causally)."""
    retry_base: int = 1
    """The attempt that opened the current retry budget (a manual retry opens a new one)."""
    child_id: UUID | None = None
    """The sub-workflow instance this WAITING token waits for (``SubWorkflowStep``)."""

    def copy(self) -> Token:
        """A copy whose ``delta`` and ``writers`` can be changed without touching this token."""
        return msgspec.structs.replace(
            self,
            delta=dict(self.delta) if self.delta else {},
            writers=dict(self.writers) if self.writers else {},
        )


class BranchData(msgspec.Struct):
    """Data written by a branch that ended while others were still running."""

    branch: Branch
    delta: dict[str, Any]
    removed: tuple[str, ...] = ()
    writers: dict[str, Branch] = {}


class WorkflowInstanceData(msgspec.Struct, gc=False):
    """A workflow instance: status, data, and where its execution stands.

    Not tracked by the garbage collector (``gc=False``; the engine builds one per change and one
    per copy it hands out): nothing it holds refers back to it, so it is freed as soon as the last
    reference goes. Do not store an instance in its own context's ``metadata``: that reference
    cycle would never be freed.
    """

    id: UUID
    workflow_name: str
    workflow_version: str
    status: WorkflowStatus
    context: WorkflowContext
    current_step: str | None
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    tokens: list[Token] = []
    ended_branches: tuple[BranchData, ...] = ()
    revision: int = 0
    """Incremented by every committed change; writers use it for optimistic concurrency."""
    next_token: int = 1
    cancel_reason: str | None = None
    started_by: str | None = None
    """The user who started the instance (None: anonymous, or started by code without one); never changes."""
    parent_id: UUID | None = None
    """The instance that started this one as a sub-workflow (None: a top-level instance); never changes."""
    parent_token: str | None = None
    """The parent's token that waits for this instance to finish; never changes."""

    def copy(self, *, share_history: bool = True) -> WorkflowInstanceData:
        """A copy with its own data dict and tokens, for the engine's own next state.

        The step history and the metadata are shared, and nested values too (the engine never
        changes a stored value in place). ``share_history=False`` makes a :meth:`detached` copy.
        """
        if not share_history:
            return self.detached()
        context = msgspec.structs.replace(self.context, data=dict(self.context.data))
        tokens = self.tokens
        if not tokens:
            copied: list[Token] = []
        elif len(tokens) == 1:  # the usual case, without a list comprehension's function call
            copied = [tokens[0].copy()]
        else:
            copied = [token.copy() for token in tokens]
        return msgspec.structs.replace(self, context=context, tokens=copied)

    def detached(self) -> WorkflowInstanceData:
        """A copy that shares nothing changeable with this instance, at any depth (what callers get).

        Whatever its holder changes in it (data, metadata, history, a nested list) leaves the
        stored instance alone, and later changes of the instance do not show in it.
        """
        source = self.context
        history = list(source.step_history)
        for entry in history:
            if entry.result is not None or entry.input_data is not None or entry.output_data is not None:
                history = [entry.detached() for entry in history]
                break
        context = msgspec.structs.replace(
            source, data=private_copy(source.data), metadata=private_copy(source.metadata), step_history=history
        )
        tokens: list[Token] = []
        for token in self.tokens:  # a loop, not a comprehension: on 3.11 that is a call of its own
            tokens.append(  # noqa: PERF401
                msgspec.structs.replace(
                    token,
                    delta=private_copy(token.delta) if token.delta else {},
                    writers=dict(token.writers) if token.writers else {},
                )
            )
        if not self.ended_branches:
            return msgspec.structs.replace(self, context=context, tokens=tokens)
        ended = tuple(
            BranchData(branch.branch, private_copy(branch.delta), branch.removed, dict(branch.writers))
            for branch in self.ended_branches
        )
        return msgspec.structs.replace(self, context=context, tokens=tokens, ended_branches=ended)

    @property
    def active_steps(self) -> list[str]:
        """Names of the steps that hold a token (runnable, waiting, or arrived at a join)."""
        return [token.step for token in self.tokens]

    @property
    def data(self) -> dict[str, Any]:
        """The instance's context data."""
        return self.context.data


class HumanTaskData(msgspec.Struct):
    """A task waiting for (or done by) a person."""

    id: UUID
    instance_id: UUID
    workflow_name: str
    step_name: str
    token_id: str
    title: str
    description: str = ""
    form_schema: dict[str, Any] | None = None
    assignee: str | None = None
    candidate_groups: list[str] = []
    status: TaskStatus = TaskStatus.OPEN
    created_at: datetime | None = None
    due_at: datetime | None = None
    claimed_by: str | None = None
    completed_by: str | None = None
    completed_at: datetime | None = None
    data: dict[str, Any] | None = None

    def detached(self) -> HumanTaskData:
        """A copy that shares nothing changeable with this task, at any depth (what callers get)."""
        return msgspec.structs.replace(
            self,
            form_schema=None if self.form_schema is None else private_copy(self.form_schema),
            candidate_groups=list(self.candidate_groups),
            data=None if self.data is None else private_copy(self.data),
        )
