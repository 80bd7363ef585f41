"""Who acts, and the one rule of who may act on a human task.

Everything that decides about a task (the REST API, the engine's completion, the SQL filter of
task lists, the CLI) uses :func:`can_act_on`; the SQL filter is proven equal to it by a property
test. No I/O and no Litestar here: the engine checks the same rule inside its commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ("ANONYMOUS", "Identity", "TaskHolders", "can_act_on", "is_admin")


class TaskHolders(Protocol):
    """Who a task is for: what :func:`can_act_on` reads of it.

    A ``HumanTaskData`` is one; so is the handful of columns a database commit reads (under its
    lock) to check a completion against the task as stored.
    """

    @property
    def assignee(self) -> str | None:
        """The user the task is assigned to, if any."""
        ...

    @property
    def candidate_groups(self) -> Sequence[str]:
        """The groups the task is offered to (empty: none)."""
        ...


@dataclass(frozen=True, slots=True)
class Identity:
    """A caller: a user id (None when anonymous) and the groups it belongs to."""

    user_id: str | None
    groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_anonymous(self) -> bool:
        """True when no user is known."""
        return self.user_id is None


ANONYMOUS = Identity(None)
"""The identity of a request without a user."""


def is_admin(identity: Identity, admin_role: str | None) -> bool:
    """True if ``identity`` holds the admin role (never for anonymous callers)."""
    return admin_role is not None and not identity.is_anonymous and admin_role in identity.groups


def can_act_on(task: TaskHolders, identity: Identity, admin_role: str | None) -> bool:
    """True if ``identity`` may see, claim or complete ``task``.

    Admins may act on every task. Otherwise: the assignee when the task has one; else a member
    of one of its candidate groups when it has some; else any identified user. Anonymous callers
    never may.
    """
    if identity.user_id is None:
        return False
    if is_admin(identity, admin_role):
        return True
    if task.assignee is not None:
        return task.assignee == identity.user_id
    if task.candidate_groups:
        return not identity.groups.isdisjoint(task.candidate_groups)
    return True
