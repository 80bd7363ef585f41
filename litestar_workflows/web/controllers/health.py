"""``/health``: is this process able to run workflows (database reachable, engine loops alive)?

Deliberately public: load balancers and orchestrators probe it without credentials, so the
plugin mounts it on a router of its own, outside ``api_guards`` (the other endpoints' policy).
It reveals no instance data: only ``ok`` or ``failing`` per check, with a generic reason.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from litestar_workflows.core.exceptions import DatabaseUnavailableError
from litestar_workflows.engine.engine import LocalExecutionEngine
from litestar_workflows.engine.persistence import WorkflowPersistence
from litestar_workflows.web.access import PUBLIC_ROUTE
from litestar_workflows.web.api import WorkflowApi

__all__ = ("HEALTH_TIMEOUT", "HealthCheck", "HealthController", "HealthReport")

logger = logging.getLogger("litestar_workflows.web")

HEALTH_TIMEOUT = 2.0
"""Seconds the database gets to answer the health check's query."""


class HealthCheck(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The outcome of one check."""

    status: Literal["ok", "failing"]
    detail: str | None = None
    """Why it fails (generic: no host names, no instance data)."""


class HealthReport(msgspec.Struct, kw_only=True):
    """``ok`` when every check passes (200), ``unavailable`` otherwise (503)."""

    status: Literal["ok", "unavailable"]
    database: HealthCheck
    engine: HealthCheck
    """The engine's background loops in this process: claiming work (recovery, timers) and renewing leases."""


_OK = HealthCheck(status="ok")


async def _check_database(persistence: WorkflowPersistence) -> HealthCheck:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await persistence.ping()
    except TimeoutError:
        return HealthCheck(status="failing", detail=f"no answer within {HEALTH_TIMEOUT:g}s")
    except DatabaseUnavailableError:
        return HealthCheck(status="failing", detail="unreachable")
    except Exception as exc:  # noqa: BLE001 - any error is a failed check, reported, not raised
        logger.warning("health check: the database query failed: %s: %s", type(exc).__name__, exc)
        return HealthCheck(status="failing", detail=f"query failed ({type(exc).__name__})")
    return _OK


def _check_engine(engine: LocalExecutionEngine) -> HealthCheck:
    if not engine.rules.recovers:
        return _OK  # the web role of a queue deployment runs no loops: its workers do
    loops = engine.loops
    if not loops:
        return HealthCheck(status="failing", detail="not running")
    stopped = sorted(name for name, alive in loops.items() if not alive)
    if stopped:
        return HealthCheck(status="failing", detail=f"stopped loops: {', '.join(stopped)}")
    return _OK


class HealthController(Controller):
    """The health check."""

    path = "/health"

    @get(
        "/",
        name="workflows:health",
        operation_id="WorkflowsHealth",
        summary="Health check",
        description="200 when the database answers a trivial query within "
        f"{HEALTH_TIMEOUT:g} s and the engine's background loops run in this process; 503 otherwise, saying "
        "which check fails. Public (no credentials needed) and free of instance data.",
        cache_control=CacheControlHeader(no_store=True),
        opt={PUBLIC_ROUTE: True},  # load balancers probe without credentials; it shows no instance data
        responses={
            HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(data_container=HealthReport, description="A check fails")
        },
    )
    async def health(self, workflow_api: NamedDependency[WorkflowApi]) -> Response[HealthReport]:
        """Health check."""
        engine = workflow_api.engine
        database = await _check_database(engine.persistence)
        engine_check = _check_engine(engine)
        healthy = database.status == "ok" and engine_check.status == "ok"
        report = HealthReport(status="ok" if healthy else "unavailable", database=database, engine=engine_check)
        return Response(report, status_code=HTTP_200_OK if healthy else HTTP_503_SERVICE_UNAVAILABLE)
