"""The plugin itself: the README setup, DI, lifespan order, error handlers, configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import (
    HTTPException,
    ImproperlyConfiguredException,
    NotAuthorizedException,
    PermissionDeniedException,
)
from litestar.params import FromPath
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from examples.approval import ExpenseApproval
from litestar_workflows import (
    InMemoryPersistence,
    LocalExecutionEngine,
    TaskNotFoundError,
    WorkflowPlugin,
    WorkflowPluginConfig,
    WorkflowRegistry,
    WorkflowsError,
)
from litestar_workflows.core.models import WorkflowInstanceData
from tests.web.conftest import ADMIN, ALICE, AppFactory, definitions, in_app, make_config, start


async def test_readme_setup_in_three_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default database is ./workflows.sqlite3
    app = Litestar(plugins=[WorkflowPlugin(WorkflowPluginConfig(workflows=[ExpenseApproval]))])
    body = {"workflow": "expense_approval", "data": {"amount": 5, "manager": "bob"}}
    async with AsyncTestClient(app) as client:
        # No authentication in this app: every caller is anonymous, and the API refuses them all.
        assert (await client.get("/workflows/definitions")).status_code == 401
        assert (await client.post("/workflows/instances", json=body)).status_code == 401
        started = await client.post("/workflows/instances", json=body, headers=ALICE)  # the test resolver's user
        assert started.status_code == 401  # the README app has no resolver reading headers
    assert (tmp_path / "workflows.sqlite3").exists()


@get("/mine/{name:str}")
async def host_handler(
    name: FromPath[str],
    workflow_engine: NamedDependency[LocalExecutionEngine],
    workflow_registry: NamedDependency[WorkflowRegistry],
) -> dict[str, Any]:
    instance = await workflow_engine.start_workflow(name)
    return {"id": str(instance.id), "versions": workflow_registry.get_versions(name)}


async def test_host_handlers_get_the_engine_and_registry(make_app: AppFactory) -> None:
    app = Litestar(route_handlers=[host_handler], plugins=[WorkflowPlugin(make_config())])
    plugin = app.plugins.get(WorkflowPlugin)
    async with AsyncTestClient(app) as client:
        response = await client.get("/mine/versioned")
        assert response.status_code == 200
        assert response.json()["versions"] == ["1", "2"]
        url = f"/workflows/instances/{response.json()['id']}"
        assert (await client.get(url, headers=ADMIN)).status_code == 200
        stored: list[WorkflowInstanceData] = in_app(client, plugin.persistence.list_instances)
        assert [str(instance.id) for instance in stored] == [response.json()["id"]]
    assert isinstance(plugin.registry, WorkflowRegistry)
    assert plugin.engine.registry is plugin.registry


@get("/boom")
async def boom() -> None:
    raise TaskNotFoundError("task 1 not found")


async def test_engine_errors_in_host_handlers_are_mapped_too() -> None:
    app = Litestar(route_handlers=[boom], plugins=[WorkflowPlugin(make_config())])
    async with AsyncTestClient(app) as client:
        response = await client.get("/boom")
        assert response.status_code == 404
        assert response.json() == {"status_code": 404, "detail": "task 1 not found"}


def _host_workflows_handler(_: Any, exc: WorkflowsError) -> Response[dict[str, str]]:
    return Response({"host": str(exc)}, status_code=418)


async def test_host_exception_handlers_are_never_replaced() -> None:
    app = Litestar(
        route_handlers=[boom],
        exception_handlers={WorkflowsError: _host_workflows_handler},
        plugins=[WorkflowPlugin(make_config())],
    )
    async with AsyncTestClient(app) as client:
        assert (await client.get("/boom")).status_code == 418
        missing = await client.get("/workflows/definitions/nope", headers=ALICE)
        assert missing.json() == {"host": "workflow 'nope' is not registered"}


def _host_404(_: Any, exc: HTTPException) -> Response[dict[str, str]]:
    return Response({"not_found": exc.detail}, status_code=404)


async def test_mapped_errors_go_through_the_hosts_http_handlers() -> None:
    app = Litestar(exception_handlers={404: _host_404}, plugins=[WorkflowPlugin(make_config())])
    async with AsyncTestClient(app) as client:
        response = await client.get("/workflows/definitions/nope", headers=ALICE)
        assert response.json() == {"not_found": "workflow 'nope' is not registered"}


async def test_problem_details_apply_to_workflow_errors() -> None:
    problem_details = ProblemDetailsPlugin(ProblemDetailsConfig(enable_for_all_http_exceptions=True))
    app = Litestar(plugins=[problem_details, WorkflowPlugin(make_config())])
    async with AsyncTestClient(app) as client:
        response = await client.get("/workflows/definitions/nope", headers=ALICE)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_exception_handlers_can_be_left_out_of_the_app_but_not_of_the_api() -> None:
    app = Litestar(route_handlers=[boom], plugins=[WorkflowPlugin(make_config(set_exception_handlers=False))])
    async with AsyncTestClient(app) as client:
        assert (await client.get("/boom")).status_code == 500  # the host's own route: its choice
        missing = await client.get("/workflows/definitions/nope", headers=ALICE)
        assert missing.status_code == 404, missing.text
        assert "not registered" in missing.json()["detail"]


async def test_path_guards_and_tags(make_app: AppFactory) -> None:
    def deny_without_token(connection: Any, _: Any) -> None:
        if connection.headers.get("x-token") != "ok":
            raise NotAuthorizedException("token required")

    app = make_app(path="/api/flows", api_guards=[deny_without_token], api_tags=["Flows"])
    async with AsyncTestClient(app) as client:
        assert (await client.get("/api/flows/definitions", headers=ALICE)).status_code == 401
        assert (await client.get("/api/flows/definitions", headers={**ALICE, "x-token": "ok"})).status_code == 200
        assert (await client.get("/workflows/definitions")).status_code == 404
        schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/flows/instances"]["post"]
    assert operation["tags"] == ["Flows"]
    assert operation["operationId"] == "WorkflowsStartInstance"
    assert {"201", "400", "404", "422"} <= set(operation["responses"])


async def test_the_gate_answers_before_the_hosts_own_guards_are_asked() -> None:
    """An anonymous caller gets the API's 401; a guard of the host's app only sees callers the gate let in."""
    asked: list[str] = []

    def host_guard(connection: Any, _: Any) -> None:
        asked.append(connection.headers.get("x-user", ""))
        raise PermissionDeniedException("the host refuses")

    app = Litestar(guards=[host_guard], plugins=[WorkflowPlugin(make_config())])
    async with AsyncTestClient(app) as client:
        assert (await client.get("/workflows/definitions")).status_code == 401
        assert (await client.post("/workflows/instances", content=b"x=1", headers=ALICE)).status_code == 415
        assert asked == []
        assert (await client.get("/workflows/definitions", headers=ALICE)).status_code == 403
        assert asked == ["alice"]


def test_api_routes_resolve_no_dependencies_per_request(make_app: AppFactory) -> None:
    """Litestar resolves dependencies at every request (independent ones in a task group); the API's
    routes find the API and their caller in the request's state instead, and the health check's one
    dependency needs no task group."""
    app = make_app()
    routes = [route for route in app.routes if isinstance(route, HTTPRoute) and route.path.startswith("/workflows")]
    assert "/workflows/instances" in {route.path for route in routes}
    batches = {
        (route.path, method): [len(batch) for batch in kwargs_model.dependency_batches]
        for route in routes
        for method, (_, kwargs_model) in route.route_handler_map.items()
        if kwargs_model.dependency_batches
    }
    assert batches == {("/workflows/health", "GET"): [1]}


async def test_api_can_be_disabled_while_the_engine_runs() -> None:
    app = Litestar(route_handlers=[host_handler], plugins=[WorkflowPlugin(make_config(enable_api=False))])
    async with AsyncTestClient(app) as client:
        assert (await client.get("/workflows/definitions")).status_code == 404
        assert (await client.get("/mine/auto")).status_code == 200


async def test_custom_dependency_keys_and_collisions() -> None:
    @post("/go")
    async def go(engine: NamedDependency[LocalExecutionEngine]) -> str:
        return type(engine).__name__

    app = Litestar(route_handlers=[go], plugins=[WorkflowPlugin(make_config(engine_dependency_key="engine"))])
    async with AsyncTestClient(app) as client:
        assert (await client.post("/go")).text == "LocalExecutionEngine"
    with pytest.raises(ImproperlyConfiguredException, match="already used"):
        Litestar(dependencies={"workflow_engine": lambda: 1}, plugins=[WorkflowPlugin(make_config())])


def test_config_is_checked() -> None:
    cases: list[dict[str, Any]] = [
        {"path": "workflows"},
        {"engine_dependency_key": "x", "registry_dependency_key": "x"},
        {"max_body_size": 0},
        {
            "persistence": InMemoryPersistence(),
            "sqlalchemy_config": SQLAlchemyAsyncConfig(connection_string="postgresql+asyncpg://db/app"),
        },
    ]
    for options in cases:
        with pytest.raises(ImproperlyConfiguredException):
            WorkflowPluginConfig(**options)


def test_invalid_workflows_fail_when_the_plugin_is_built() -> None:
    from tests.helpers import SetStep, flow

    broken = flow("broken", [SetStep("a")], [], "a", ["missing"])
    with pytest.raises(WorkflowsError, match="terminal step 'missing' does not exist"):
        WorkflowPlugin(WorkflowPluginConfig(workflows=[broken], persistence=InMemoryPersistence()))


async def test_engine_restarts_with_the_app(make_app: AppFactory) -> None:
    app = make_app()
    plugin = app.plugins.get(WorkflowPlugin)
    async with AsyncTestClient(app) as client:
        first = plugin.engine
        instance = await start(client, "approval", headers=ALICE)
    async with AsyncTestClient(app) as client:
        assert plugin.engine is not first  # a stopped engine takes no work; a new one runs
        detail = (await client.get(f"/workflows/instances/{instance['id']}", headers=ALICE)).json()
        assert detail["status"] == "waiting"
        task_id = detail["open_tasks"][0]["id"]
        done = await client.post(f"/workflows/tasks/{task_id}/complete", json={"approved": True}, headers=ADMIN)
        assert done.status_code == 200


def test_signature_namespace_exports_the_public_types() -> None:
    namespace = WorkflowPlugin(make_config()).signature_namespace
    assert namespace["LocalExecutionEngine"] is LocalExecutionEngine
    assert namespace["WorkflowRegistry"] is WorkflowRegistry
    assert "InstanceDetail" in namespace
    assert "instance_detail" not in namespace


def _sqlalchemy(tmp_path: Path) -> SQLAlchemyAsyncConfig:
    # advanced-alchemy (1.12) disposes the engine when the app stops only if ``engine_dependency_key``
    # equals the app-state key, and it renames the latter (``db_engine_1``, ...) for every config
    # after the first in a process; without the same unique name for both, the engine's pooled
    # connection would be left to the garbage collector (a ResourceWarning in a later test).
    key = f"db_engine_{uuid4().hex}"
    return SQLAlchemyAsyncConfig(
        connection_string=f"sqlite+aiosqlite:///{tmp_path / 'host.sqlite3'}",
        engine_app_state_key=key,
        engine_dependency_key=key,
    )


def test_sqlalchemy_plugin_listed_after_is_refused(tmp_path: Path) -> None:
    sqlalchemy = _sqlalchemy(tmp_path)
    config = WorkflowPluginConfig(workflows=definitions(), sqlalchemy_config=sqlalchemy, create_all=True)
    with pytest.raises(ImproperlyConfiguredException, match="List it first"):
        Litestar(plugins=[WorkflowPlugin(config), SQLAlchemyPlugin(config=sqlalchemy)])


async def test_host_database_runs_the_engine_inside_its_lifespan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlalchemy = _sqlalchemy(tmp_path)
    config = make_config(persistence=None, sqlalchemy_config=sqlalchemy, create_all=True)
    app = Litestar(plugins=[SQLAlchemyPlugin(config=sqlalchemy), WorkflowPlugin(config)])
    seen: list[bool] = []
    original = WorkflowPlugin._open_persistence

    async def spy(self: WorkflowPlugin, persistence: Any) -> None:
        seen.append(sqlalchemy.engine_app_state_key in app.state)  # advanced-alchemy's lifespan already ran
        await original(self, persistence)

    monkeypatch.setattr(WorkflowPlugin, "_open_persistence", spy)
    async with AsyncTestClient(app) as client:
        instance = await start(client, "approval", {"amount": 1}, headers=ALICE)
        plugin = app.plugins.get(WorkflowPlugin)
        in_app(client, plugin.engine.wait_for, UUID(instance["id"]), 5)
        url = f"/workflows/instances/{instance['id']}"
        task = (await client.get(url, headers=ALICE)).json()["open_tasks"][0]
        done = await client.post(f"/workflows/tasks/{task['id']}/complete", json={"approved": True}, headers=ADMIN)
        assert done.status_code == 200
    assert seen == [True]
    assert (tmp_path / "host.sqlite3").exists()


class _RecordingStore(InMemoryPersistence):
    """A persistence of the app's own: the plugin must treat it like any other (open, never close)."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, object]] = []

    async def open(self, registry: WorkflowRegistry) -> None:
        self.calls.append(("open", sorted(definition.name for definition in registry.list_definitions())))
        await super().open(registry)

    async def close(self) -> None:
        self.calls.append(("close", None))
        await super().close()


async def test_a_persistence_of_the_apps_own_is_opened_with_the_registry_and_left_open() -> None:
    store = _RecordingStore()
    app = Litestar(plugins=[WorkflowPlugin(make_config(persistence=store))])
    async with AsyncTestClient(app) as client:
        assert store.calls == [("open", sorted(definition.name for definition in definitions()))]
        await start(client, "approval", headers=ALICE)
    assert store.calls == [("open", sorted(definition.name for definition in definitions()))]  # the app closes it
    async with AsyncTestClient(app):
        assert [call for call, _ in store.calls] == ["open", "open"]  # opened again with the app


async def test_a_persistence_the_plugin_built_is_opened_and_closed_with_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from litestar_workflows.db import SQLAlchemyPersistence

    calls: list[str] = []
    original_open, original_close = SQLAlchemyPersistence.open, SQLAlchemyPersistence.close

    async def recording_open(self: SQLAlchemyPersistence, registry: WorkflowRegistry) -> None:
        calls.append("open")
        await original_open(self, registry)

    async def recording_close(self: SQLAlchemyPersistence) -> None:
        calls.append("close")
        await original_close(self)

    monkeypatch.setattr(SQLAlchemyPersistence, "open", recording_open)
    monkeypatch.setattr(SQLAlchemyPersistence, "close", recording_close)
    app = Litestar(
        plugins=[
            WorkflowPlugin(
                make_config(persistence=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'own.sqlite3'}")
            )
        ]
    )
    async with AsyncTestClient(app) as client:
        assert calls == ["open"]
        await start(client, "approval", headers=ALICE)
    assert calls == ["open", "close"]
