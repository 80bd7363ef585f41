"""Every exception the package can raise can be imported from the root and from 0.3's ``exceptions`` module."""

from __future__ import annotations

import importlib
import pkgutil

import litestar_workflows
import litestar_workflows.exceptions as exceptions_03
from litestar_workflows import WorkflowsError

# Modules that need an optional extra (Jinja2 for the UI is installed in the test toolchain, so
# everything imports here) and the migration scripts, which Alembic loads by path.
_NOT_IMPORTED = ("litestar_workflows.migrations.versions.",)


def _public_errors() -> set[type[WorkflowsError]]:
    """Every public ``WorkflowsError`` subclass defined anywhere in the package."""
    for module in pkgutil.walk_packages(litestar_workflows.__path__, "litestar_workflows."):
        if not module.name.startswith(_NOT_IMPORTED):
            importlib.import_module(module.name)
    found: set[type[WorkflowsError]] = set()
    pending = [WorkflowsError]
    while pending:
        error = pending.pop()
        if error.__module__.startswith("litestar_workflows") and not error.__name__.startswith("_"):
            found.add(error)
        pending.extend(error.__subclasses__())
    return found


def test_every_public_error_is_exported_from_the_root_and_the_exceptions_module() -> None:
    errors = _public_errors()
    assert len(errors) >= 20
    for error in errors:
        name = error.__name__
        assert name in litestar_workflows.__all__, name
        assert name in exceptions_03.__all__, name
        assert getattr(litestar_workflows, name) is error
        assert getattr(exceptions_03, name) is error
