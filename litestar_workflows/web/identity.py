"""Who is calling: the identity the API acts for, and what it may do with a task.

The API never takes a user id from a request body. It asks the configured resolver for an
:class:`Identity` (by default read from ``request.user``, which the host's authentication
middleware sets) and checks every task action against it. ``Identity`` and the task rule live in
``core.identity`` (the engine applies the same rule); they are re-exported here.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException

from litestar_workflows.core.identity import ANONYMOUS, Identity, can_act_on, is_admin
from litestar_workflows.core.values import MAX_NAME_LENGTH, text_problem

__all__ = ("ANONYMOUS", "Identity", "IdentityResolver", "can_act_on", "default_identity_resolver", "is_admin")


IdentityResolver = Callable[[ASGIConnection[Any, Any, Any, Any]], "Identity | Awaitable[Identity]"]
"""Turns a request into an :class:`Identity`; may be sync or async."""

_ID_KEYS = ("id", "user_id", "username")


def _read(source: object, key: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(key)
    return getattr(source, key, None)


def _groups_of(raw: object) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if isinstance(raw, str):
        return frozenset({raw})
    if not isinstance(raw, Iterable):
        return frozenset()
    names: set[str] = set()
    for group in raw:
        name = group if isinstance(group, str) else _read(group, "name")
        names.add(str(group if name is None else name))
    return frozenset(names)


def identity_of(user: object) -> Identity:
    """The identity of a ``request.user`` value.

    Accepts a plain string (the user id), or an object or mapping with one of ``id``,
    ``user_id`` or ``username`` and, optionally, ``groups`` (strings, or objects with a ``name``).
    """
    if user is None:
        return ANONYMOUS
    if isinstance(user, str):
        return Identity(user) if user else ANONYMOUS
    for key in _ID_KEYS:
        value = _read(user, key)
        if value is not None and value != "":
            return Identity(str(value), _groups_of(_read(user, "groups")))
    return ANONYMOUS


def default_identity_resolver(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """Read ``request.user`` when the app has authentication middleware; anonymous otherwise."""
    return identity_of(connection.scope.get("user"))


async def resolve_identity(resolver: IdentityResolver, connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """Call ``resolver`` (sync or async) for ``connection``."""
    result: object = resolver(connection)
    if inspect.isawaitable(result):
        result = await result
    if not isinstance(result, Identity):
        msg = f"the identity resolver returned {type(result).__name__}, not an Identity"
        raise TypeError(msg)
    problem = _unusable(result)
    if problem is not None:
        # Authentication produced an identity the API cannot act for (nothing would store it):
        # the caller is not usably authenticated, whatever the request asks.
        raise NotAuthorizedException(detail=f"the caller's identity cannot be used: {problem}")
    return result


def _unusable(identity: Identity) -> str | None:
    """Why the API cannot act for ``identity`` (its user id or a group cannot be stored or queried), or None."""
    if identity.user_id is not None:
        problem = text_problem(identity.user_id, MAX_NAME_LENGTH)
        if problem is not None:
            return f"its user id {problem}"
    for group in identity.groups:
        problem = text_problem(group)
        if problem is not None:
            return f"a group name {problem}"
    return None
