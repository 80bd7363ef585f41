"""An app with the plugin on in-memory persistence, callers named by the ``X-User``/``X-Groups`` headers.

The ``client`` fixture calls as ``alice`` (no groups) unless a request names another caller;
``NOBODY`` headers make a request anonymous.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar
from uuid import UUID

import pytest
from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.testing import AsyncTestClient

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    InMemoryPersistence,
    TimerStep,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowEngineConfig,
    WorkflowPlugin,
    WorkflowPluginConfig,
)
from litestar_workflows.web.identity import ANONYMOUS, Identity
from tests.helpers import SetStep, chain, flow

Client = AsyncTestClient[Litestar]
T = TypeVar("T")

APPROVAL_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {"approved": {"type": "boolean"}, "comment": {"type": "string", "maxLength": 20}},
    "required": ["approved"],
}


class Flaky(BaseMachineStep):
    """Fails until ``fixed`` is set on the class (a retry after the fix succeeds)."""

    name = "flaky"
    fixed = False

    async def execute(self, context: WorkflowContext) -> str:
        if not type(self).fixed:
            msg = "downstream unavailable"
            raise RuntimeError(msg)
        return "ok"


def definitions() -> list[WorkflowDefinition]:
    """The workflows every test app registers."""
    return [
        # submit -> approve (managers, form) -> done
        chain(
            "approval",
            [
                SetStep("submit", "submitted", True),
                BaseHumanStep("approve", form_schema=APPROVAL_FORM, candidate_groups=["managers"]),
                SetStep("done", "finished", True),
            ],
        ),
        # a task assigned to the user named in the data under "owner"
        chain("assigned", [BaseHumanStep("review", assignee_key="owner"), SetStep("done", "finished", True)]),
        # a task for anyone identified
        chain("open", [BaseHumanStep("anyone"), SetStep("done", "finished", True)]),
        # machine steps only: completes on its own
        chain("auto", [SetStep("one", "a", 1), SetStep("two", "b", 2)]),
        # waits briefly on a timer, then completes
        flow(
            "timed",
            [SetStep("first", "a", 1), TimerStep("pause", _short_pause), SetStep("last", "b", 2)],
            [("first", "pause"), ("pause", "last")],
            "first",
            ["last"],
        ),
        chain("flaky", [Flaky(), SetStep("after", "recovered", True)]),
        chain("versioned", [SetStep("v1", "version", 1)], version="1"),
        chain("versioned", [SetStep("v2", "version", 2), SetStep("v2b", "more", True)], version="2"),
    ]


def _short_pause(context: WorkflowContext) -> timedelta:
    return timedelta(seconds=float(context.get("pause", 0.2)))


def header_identity(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """Tests name the caller in headers (the plugin's resolver hook, no auth middleware)."""
    user = connection.headers.get("x-user")
    if not user:
        return ANONYMOUS
    groups = frozenset(g.strip() for g in connection.headers.get("x-groups", "").split(",") if g.strip())
    return Identity(user, groups)


def as_user(user: str, *groups: str) -> dict[str, str]:
    """Request headers naming the caller."""
    return {"X-User": user, "X-Groups": ",".join(groups)}


ALICE = as_user("alice")
BOB = as_user("bob", "managers")
CAROL = as_user("carol", "finance")
ADMIN = as_user("root", "admin")
NOBODY = {"X-User": "", "X-Groups": ""}
"""Headers of an anonymous request (overriding the ``client`` fixture's default caller)."""


def make_config(**overrides: Any) -> WorkflowPluginConfig:
    options: dict[str, Any] = {
        "workflows": definitions(),
        "persistence": InMemoryPersistence(),
        "identity_resolver": header_identity,
        "admin_role": "admin",
        "engine_config": WorkflowEngineConfig(poll_interval=0.05, grace_period=0.5),
    }
    options.update(overrides)
    return WorkflowPluginConfig(**options)


AppFactory = Callable[..., Litestar]


@pytest.fixture
def make_app() -> AppFactory:
    def factory(**overrides: Any) -> Litestar:
        return Litestar(plugins=[WorkflowPlugin(make_config(**overrides))])

    return factory


@pytest.fixture
def app(make_app: AppFactory) -> Litestar:
    return make_app()


@pytest.fixture
def plugin(app: Litestar) -> WorkflowPlugin:
    return app.plugins.get(WorkflowPlugin)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[Client]:
    async with AsyncTestClient(app) as test_client:
        test_client.headers.update(ALICE)
        yield test_client


async def start(
    client: Client, workflow: str, data: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Start an instance through the API; returns the response body."""
    body = {"workflow": workflow, "data": data or {}}
    response = await client.post("/workflows/instances", json=body, headers=headers)
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


def in_app(client: Client, function: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``function(*args)`` on the app's event loop.

    The test clients run the app (its lifespan, the engine, every request) in a blocking portal
    on another thread; engine futures and SQL connections belong to that loop, so tests reach
    the engine through the portal rather than awaiting it on their own loop.
    """
    return client.blocking_portal.call(function, *args)


async def settle(client: Client, plugin: WorkflowPlugin, instance_id: str) -> None:
    """Wait until the instance waits for a person or finished."""
    in_app(client, plugin.engine.wait_for, UUID(instance_id), 5)


async def open_task(client: Client, plugin: WorkflowPlugin, instance_id: str) -> dict[str, Any]:
    """The single open task of an instance (after its machine steps ran)."""
    await settle(client, plugin, instance_id)
    detail = (await client.get(f"/workflows/instances/{instance_id}", headers=ADMIN)).json()
    assert len(detail["open_tasks"]) == 1, detail
    task: dict[str, Any] = detail["open_tasks"][0]
    return task


API_BODIES: dict[str, dict[str, Any]] = {
    "/workflows/instances": {"workflow": "auto"},
    "/cancel": {"reason": "no"},
    "/complete": {"approved": True},
    "/reassign": {"assignee": "mallory"},
}
"""A valid JSON body for each body-taking endpoint (by the end of its path)."""


def _api_operations() -> list[tuple[str, str]]:
    """(method, path template) of every route the plugin mounts, except deliberately public ones."""
    from litestar.routes import HTTPRoute

    from litestar_workflows.web.access import PUBLIC_ROUTE

    app = Litestar(plugins=[WorkflowPlugin(make_config())])
    operations: list[tuple[str, str]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path_format.startswith("/workflows"):
            continue
        for handler in route.route_handlers:
            if not handler.opt.get(PUBLIC_ROUTE):
                operations.extend((method, route.path_format) for method in handler.http_methods if method != "OPTIONS")
    return sorted(operations)


API_OPERATIONS = _api_operations()
"""Every operation of the API: a new endpoint joins the tests parametrized over it by itself."""


def operation_url(template: str, instance_id: str, task_id: str) -> str:
    """The URL of an operation on this instance and task (and the "approval" workflow)."""
    return template.format(instance_id=instance_id, task_id=task_id, name="approval")


def operation_body(method: str, template: str) -> dict[str, Any] | None:
    """A valid JSON body for the operation, or None when it takes none."""
    if method != "POST":
        return None
    return next((body for suffix, body in API_BODIES.items() if template.endswith(suffix)), None)
