"""The engine's lifespan lands after advanced-alchemy's: a plugin of its own, appended last, places it.

``WorkflowPlugin.on_app_init`` appends :class:`EngineLifespanPlugin` to the app's plugins, so
its ``on_app_init`` runs after every plugin listed before it, ``SQLAlchemyPlugin`` included:
the engine then starts once the database is up and stops before the database's engine is
disposed.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from litestar.exceptions import ImproperlyConfiguredException
from litestar.plugins import InitPlugin

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.config.app import AppConfig

    from litestar_workflows.config import WorkflowPluginConfig

__all__ = ("EngineLifespanPlugin", "check_lifespan_order")


def check_lifespan_order(config: WorkflowPluginConfig, app_config: AppConfig, marker: InitPlugin) -> None:
    """Refuse an app whose advanced-alchemy lifespan would run inside the engine's.

    Only matters when the workflow tables live in the host's database: listing
    ``SQLAlchemyPlugin`` after ``WorkflowPlugin`` would start the engine before the database
    and stop it after the database's engine was disposed.
    """
    if config.sqlalchemy_config is None:
        return
    from advanced_alchemy.extensions.litestar import SQLAlchemyInitPlugin

    position = app_config.plugins.index(marker)
    if any(isinstance(plugin, SQLAlchemyInitPlugin) for plugin in app_config.plugins[position + 1 :]):
        msg = (
            "SQLAlchemyPlugin is listed after WorkflowPlugin: the workflow engine would start before the "
            "database and stop after it. List it first: "
            "Litestar(plugins=[SQLAlchemyPlugin(...), WorkflowPlugin(...)])"
        )
        raise ImproperlyConfiguredException(msg)


class EngineLifespanPlugin(InitPlugin):
    """Added by ``WorkflowPlugin`` so its lifespan lands after advanced-alchemy's."""

    __slots__ = ("_config", "_lifespan")

    def __init__(
        self, config: WorkflowPluginConfig, lifespan: Callable[[Litestar], AbstractAsyncContextManager[Any]]
    ) -> None:
        self._config = config
        self._lifespan = lifespan

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        check_lifespan_order(self._config, app_config, self)
        app_config.lifespan.append(self._lifespan)
        return app_config
