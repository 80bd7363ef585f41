"""Decorators of the SQL persistence's methods: outages reported as such, operations run to their end."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from litestar_workflows.core.exceptions import DatabaseUnavailableError
from litestar_workflows.db.outages import as_outage

__all__ = ("outage_instead", "reporting_outages", "shielded")

_P = ParamSpec("_P")
_T = TypeVar("_T")


class _Tracking(Protocol):
    @property
    def _inflight(self) -> set[asyncio.Future[Any]]:
        """Operations under way (``close`` waits for them)."""
        ...


_S = TypeVar("_S", bound=_Tracking)


def reporting_outages(
    method: Callable[Concatenate[_S, _P], Awaitable[_T]],
) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]:
    """Raise ``DatabaseUnavailableError`` instead of the driver's error when the database cannot be reached."""

    @functools.wraps(method)
    async def run(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await method(self, *args, **kwargs)
        except Exception as exc:
            outage = outage_instead(exc)
            if outage is None:
                raise
            raise outage from exc

    return run


def outage_instead(exc: BaseException) -> DatabaseUnavailableError | None:
    """What to raise instead of ``exc``: ``DatabaseUnavailableError`` if it is an outage; None: ``exc`` itself."""
    outage = as_outage(exc)
    return None if outage is exc else outage


def shielded(
    method: Callable[Concatenate[_S, _P], Awaitable[_T]],
) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]:
    """Run a database operation to its end even if the caller is cancelled (and report outages).

    Engine shutdown cancels running steps; a query cancelled half-way would leave its pooled
    connection checked out (and unclosable by ``dispose``). The operation runs in its own task,
    which ``close`` waits for; only the caller's wait is cancelled.
    """

    @functools.wraps(method)
    async def run(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        task: asyncio.Future[_T] = asyncio.ensure_future(method(self, *args, **kwargs))
        inflight = self._inflight
        inflight.add(task)
        task.add_done_callback(inflight.discard)
        return await asyncio.shield(task)

    return reporting_outages(run)
