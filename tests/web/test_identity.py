"""Who the caller is, and the task permission rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import RequestFactory

from litestar_workflows import HumanTaskData
from litestar_workflows.web.identity import (
    ANONYMOUS,
    Identity,
    can_act_on,
    default_identity_resolver,
    identity_of,
    resolve_identity,
)


@dataclass
class Group:
    name: str


@dataclass
class UserWithId:
    id: int
    groups: list[Any] = field(default_factory=list)


@dataclass
class UserWithUsername:
    username: str
    groups: Any = None


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (None, ANONYMOUS),
        ("", ANONYMOUS),
        ("alice", Identity("alice")),
        ({"user_id": "bob", "groups": ["managers"]}, Identity("bob", frozenset({"managers"}))),
        ({"id": 7, "groups": "finance"}, Identity("7", frozenset({"finance"}))),
        ({"groups": ["x"]}, ANONYMOUS),
        (UserWithId(3, [Group("legal"), "ops"]), Identity("3", frozenset({"legal", "ops"}))),
        (UserWithUsername("carol", 5), Identity("carol")),
        (object(), ANONYMOUS),
    ],
)
def test_identity_of_request_user(user: Any, expected: Identity) -> None:
    assert identity_of(user) == expected


def test_default_resolver_reads_scope_user_or_is_anonymous() -> None:
    with_user = RequestFactory().get("/", user={"username": "dave", "groups": ["legal"]})
    assert default_identity_resolver(with_user) == Identity("dave", frozenset({"legal"}))
    assert default_identity_resolver(RequestFactory().get("/")) == ANONYMOUS


async def test_resolvers_may_be_async_and_must_return_an_identity() -> None:
    request = RequestFactory().get("/")

    async def resolver(_: Any) -> Identity:
        return Identity("async")

    assert await resolve_identity(resolver, request) == Identity("async")
    with pytest.raises(TypeError, match="not an Identity"):
        await resolve_identity(lambda _: "alice", request)  # type: ignore[arg-type,return-value]


def _task(assignee: str | None = None, groups: list[str] | None = None) -> HumanTaskData:
    return HumanTaskData(
        uuid4(), uuid4(), "wf", "step", "t1", "Title", assignee=assignee, candidate_groups=groups or []
    )


@pytest.mark.parametrize(
    ("task", "identity", "allowed"),
    [
        (_task("bob"), Identity("bob"), True),
        (_task("bob"), Identity("carol", frozenset({"managers"})), False),
        (_task("bob", ["managers"]), Identity("carol", frozenset({"managers"})), False),  # assignee wins
        (_task(None, ["managers"]), Identity("carol", frozenset({"managers"})), True),
        (_task(None, ["managers"]), Identity("carol", frozenset({"finance"})), False),
        (_task(), Identity("anyone"), True),
        (_task(), ANONYMOUS, False),
        (_task("bob"), Identity("root", frozenset({"admin"})), True),
        (_task("bob"), Identity(None, frozenset({"admin"})), False),
    ],
)
def test_can_act_on(task: HumanTaskData, identity: Identity, allowed: bool) -> None:
    assert can_act_on(task, identity, "admin") is allowed


def test_without_an_admin_role_nobody_is_admin() -> None:
    assert can_act_on(_task("bob"), Identity("root", frozenset({"admin"})), None) is False
