"""Alembic environment for developing litestar-workflows' own migrations.

Host applications do not use this file: they add ``litestar_workflows.migrations.VERSIONS_PATH`` to
their own ``version_locations``. This environment drives the same revisions against a development
or test database.

Where the database comes from, first match wins:

1. ``config.attributes["connection"]``: an open *sync* ``Connection`` (for example from
   ``AsyncConnection.run_sync``), used as is;
2. ``config.attributes["url"]``: a SQLAlchemy URL (async driver);
3. the environment variable ``LSW_DATABASE_URL``;
4. ``sqlite+aiosqlite:///workflows.sqlite3``.

Set ``config.attributes["configure_logger"] = False`` to keep the caller's logging untouched.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from litestar_workflows.db.models import WorkflowInstanceModel
from litestar_workflows.migrations import compare_type

DEFAULT_URL = "sqlite+aiosqlite:///workflows.sqlite3"

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = WorkflowInstanceModel.metadata
"""advanced-alchemy's shared metadata; it holds the four ``workflow_*`` tables."""

version_table = config.get_main_option("version_table", "alembic_versions") or "alembic_versions"


def _database_url() -> str:
    url = config.attributes.get("url") or os.environ.get("LSW_DATABASE_URL") or DEFAULT_URL
    return str(url)


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate looks only at our tables, so a shared dev database's other tables are left alone."""
    if type_ == "table":
        return name in target_metadata.tables
    return True


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        version_table=version_table,
        # compare types, but treat SQLite's reflection of GUID (BINARY(16) read back as NUMERIC(16)) as equal
        compare_type=compare_type,
        include_name=_include_name,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Emit the SQL instead of running it (``alembic upgrade --sql``)."""
    url = _database_url()
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(_database_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
