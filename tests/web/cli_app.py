"""An app for the CLI tests, importable as ``tests.web.cli_app:app``."""

from __future__ import annotations

from litestar import Litestar

from litestar_workflows import WorkflowPlugin
from tests.web.conftest import make_config

app = Litestar(plugins=[WorkflowPlugin(make_config())])
