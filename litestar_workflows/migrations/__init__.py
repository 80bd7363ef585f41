"""Alembic revisions for the litestar-workflows tables, shipped inside the package.

The revisions live on their own branch, labelled ``litestar_workflows``, with their own base, so
they sit beside a host application's migration history without touching it. A host app adds
:data:`VERSIONS_PATH` to ``version_locations`` in its ``alembic.ini`` and then runs
``litestar database upgrade heads`` (or ``alembic upgrade heads``); ``upgrade
litestar_workflows@head`` applies only this branch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import Column
    from sqlalchemy.types import TypeEngine

__all__ = ("BRANCH_LABEL", "VERSIONS_PATH", "compare_type", "versions_path")

BRANCH_LABEL = "litestar_workflows"
"""The Alembic branch label of the first revision; address the branch as ``litestar_workflows@head``."""

VERSIONS_PATH = str(Path(__file__).resolve().parent / "versions")
"""Absolute path of the folder that holds the revisions (add it to ``version_locations``)."""


def versions_path() -> str:
    """Return the absolute path of the revisions folder, as :data:`VERSIONS_PATH`."""
    return VERSIONS_PATH


def compare_type(
    context: MigrationContext,
    inspected_column: Column[Any],
    metadata_column: Column[Any],
    inspected_type: TypeEngine[Any],
    metadata_type: TypeEngine[Any],
) -> bool | None:
    """An Alembic ``compare_type`` hook that knows how SQLite reflects advanced-alchemy's ``GUID``.

    ``GUID`` is always ``BINARY(16)`` on SQLite, which SQLite (and so SQLAlchemy's reflection) reads
    back with NUMERIC affinity as ``NUMERIC(16)``; Alembic then reports a type change on every GUID
    column although the database holds exactly what the model declares. This hook calls that one
    case equal and leaves every other comparison to Alembic (``None``). Pass it as
    ``context.configure(compare_type=compare_type)``.
    """
    from advanced_alchemy.types import GUID
    from sqlalchemy import Numeric

    if (
        context.dialect.name == "sqlite"
        and isinstance(metadata_type, GUID)
        and metadata_type.binary
        and isinstance(inspected_type, Numeric)
        and inspected_type.precision == 16
    ):
        return False
    return None
