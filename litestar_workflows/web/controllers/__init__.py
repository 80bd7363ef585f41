"""The REST API's controllers: definitions, instances and tasks."""

from __future__ import annotations

from litestar_workflows.web.controllers.definitions import DefinitionsController
from litestar_workflows.web.controllers.instances import InstancesController
from litestar_workflows.web.controllers.tasks import TasksController

__all__ = ("DefinitionsController", "InstancesController", "TasksController")
