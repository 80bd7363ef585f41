"""W3: litestar-workflows 0.3.3's REST API as a uvicorn app, run by the peer's interpreter.

Its plugin mounts the API on its in-memory engine. Completing a task through that API needs the
database extra and task rows that its in-memory engine never writes, so only starting workflows
is measured for it.
"""

from __future__ import annotations

from litestar import Litestar
from lsw033 import W1, W2

from litestar_workflows import WorkflowPlugin, WorkflowPluginConfig

app = Litestar(plugins=[WorkflowPlugin(WorkflowPluginConfig(auto_register_workflows=[W1, W2]))])
