"""The REST API's controllers: definitions, instances, tasks, and the health check."""

from __future__ import annotations

from litestar_workflows.web.controllers.definitions import DefinitionsController
from litestar_workflows.web.controllers.health import HealthController
from litestar_workflows.web.controllers.instances import InstancesController
from litestar_workflows.web.controllers.tasks import TasksController

__all__ = ("DefinitionsController", "HealthController", "InstancesController", "TasksController")
