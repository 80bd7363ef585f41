"""Telling a database outage from other database errors.

An outage is an error that says nothing about the request: the server is down, restarting,
refusing connections, unreachable, or a connection was cut. The persistence reports it as
``DatabaseUnavailableError`` (the API answers 503 with ``Retry-After``); any other error (a bug,
a constraint) goes up unchanged. Drivers raise outages in several shapes: SQLAlchemy's
``DBAPIError`` (with ``connection_invalidated`` set when a connection was lost), asyncpg's own
errors and plain ``OSError``\\ s at connect time (which SQLAlchemy does not wrap), SQLite's
``OperationalError`` with a message, and advanced-alchemy's ``RepositoryError`` around any of
them. The whole chain of causes is looked at.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from litestar_workflows.core.exceptions import DatabaseUnavailableError

__all__ = ("as_outage", "is_outage")

logger = logging.getLogger("litestar_workflows.db")

_SQLSTATE_CLASSES = ("08",)
"""SQLSTATE classes of outages: connection exceptions."""
_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "3D000"})
"""Admin or crash shutdown, cannot connect now, too many connections, the database does not exist."""
_MESSAGES = (
    "not currently accepting connections",
    "unable to open database file",
    "disk i/o error",
    "database is locked",
    "connection is closed",
    "connection was closed",
    "server closed the connection",
)
"""Message fragments (lower case) of outages that come without a usable code."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _one_is_outage(exc: BaseException) -> bool:
    if isinstance(exc, DatabaseUnavailableError | PoolTimeoutError | ConnectionError | socket.gaierror):
        return True
    if isinstance(exc, TimeoutError):  # a driver's connect or command timeout
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and (sqlstate in _SQLSTATES or sqlstate.startswith(_SQLSTATE_CLASSES)):
        return True
    if isinstance(exc, DBAPIError):
        return False  # its text was already looked at through ``orig``, the driver's error, below it
    message = str(exc).lower()
    return any(fragment in message for fragment in _MESSAGES)


def is_outage(exc: BaseException) -> bool:
    """True if ``exc`` (or an error it was raised from) says the database cannot be reached."""
    return any(_one_is_outage(link) for link in _chain(exc))


def as_outage(exc: BaseException) -> DatabaseUnavailableError | None:
    """``DatabaseUnavailableError`` for an outage (logged at WARNING with the driver's message), else None."""
    if isinstance(exc, DatabaseUnavailableError):
        return exc
    if not is_outage(exc):
        return None
    logger.warning("the database is unavailable: %s: %s", type(exc).__name__, exc)
    return DatabaseUnavailableError("the workflow database is unavailable right now; try again shortly")
