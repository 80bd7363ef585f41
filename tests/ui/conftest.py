"""The test app of tests/web with the UI on: callers named by headers, pages fetched with Litestar's test client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from litestar_workflows import WorkflowDefinition, WorkflowPlugin
from litestar_workflows.ui import UIConfig
from tests.helpers import SetStep, chain
from tests.web.conftest import ALICE, Client, definitions, make_config

UI = "/workflows/ui"
LOGIN_URL = "/login"

_TOKEN = re.compile(r'name="_csrf_token" value="([^"]*)"')
_FIELD_ERROR = re.compile(
    r'<p class="field-error" id="error-([^"]+)"><span class="visually-hidden">Error: </span>(.*?)</p>'
)


def payroll() -> WorkflowDefinition:
    """A workflow only members of "hr" (and admins) may start."""
    return replace(chain("payroll", [SetStep("pay", "paid", True)]), start_groups=["hr"])


def ui_app(**overrides: Any) -> Litestar:
    """The tests/web app with the UI (a login link for anonymous visitors) and a start-restricted workflow."""
    options: dict[str, Any] = {"ui": UIConfig(login_url=LOGIN_URL), "workflows": [*definitions(), payroll()]}
    options.update(overrides)
    return Litestar(plugins=[WorkflowPlugin(make_config(**options))])


@pytest.fixture
def app() -> Litestar:
    return ui_app()


@pytest.fixture
def plugin(app: Litestar) -> WorkflowPlugin:
    return app.plugins.get(WorkflowPlugin)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[Client]:
    async with AsyncTestClient(app) as test_client:
        test_client.headers.update(ALICE)
        yield test_client


async def csrf_token(client: Client, headers: dict[str, str] | None = None) -> str:
    """The token a UI page puts in its forms (the GET also sets the CSRF cookie)."""
    page = await client.get(f"{UI}/start/open", headers=headers)  # any page with a form
    assert page.status_code == 200, page.text
    found = _TOKEN.search(page.text)
    assert found is not None
    return found.group(1)


async def post_form(
    client: Client, path: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> Any:
    """POST an HTML form to a UI page, with a valid CSRF token, without following the redirect."""
    token = await csrf_token(client, headers)
    return await client.post(
        f"{UI}{path}", data={"_csrf_token": token, **(data or {})}, headers=headers, follow_redirects=False
    )


def field_errors(html: str) -> dict[str, str]:
    """The error shown next to each field of a form page."""
    return {name: message.replace("&gt;", ">").replace("&#39;", "'") for name, message in _FIELD_ERROR.findall(html)}
