"""Name -> version -> definition, with validation on registration."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import WorkflowNotFoundError, WorkflowValidationError
from litestar_workflows.core.kinds import StepKind, kind_of
from litestar_workflows.core.protocols import Workflow

__all__ = ("WorkflowRegistry", "version_key")

_VERSION_PART = re.compile(r"[.\-+_]")


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key comparing versions part by part, numbers numerically (``10.0.0`` > ``9.0.0``).

    A release sorts after its pre-releases (``1.0.0`` > ``1.0.0-rc1``).
    """
    parts: list[tuple[int, int | str]] = []
    for part in _VERSION_PART.split(version.strip().lstrip("vV")):
        if part.isdigit():
            parts.append((2, int(part)))
        elif part:
            parts.append((1, part))
    parts.append((1, "~"))  # a bare release outranks "1.0.0-anything"
    return tuple(parts)


class WorkflowRegistry:
    """Every workflow definition the engine can run, by name and version."""

    __slots__ = ("_classes", "_definitions", "_latest")

    def __init__(self) -> None:
        self._definitions: dict[str, dict[str, WorkflowDefinition]] = {}
        self._classes: dict[str, dict[str, type[Any]]] = {}
        self._latest: dict[str, WorkflowDefinition] = {}
        """The latest version of each name (starting by name looks it up on every start)."""

    def register(self, workflow_class: type[Workflow] | type[Any]) -> WorkflowDefinition:
        """Register a workflow class (anything with a ``get_definition()`` classmethod).

        A class attribute ``input_type`` types the start data when the definition has none.
        A ``start_groups`` class attribute applies to the definition when it names no groups itself.
        """
        get_definition = getattr(workflow_class, "get_definition", None)
        if get_definition is None:
            msg = f"{workflow_class!r} has no get_definition() classmethod"
            raise TypeError(msg)
        definition: WorkflowDefinition = get_definition()
        overrides: dict[str, Any] = {}
        input_type = getattr(workflow_class, "input_type", None)
        if input_type is not None and definition.input_type is None:
            overrides["input_type"] = input_type
        elif input_type is not None and definition.input_type is not input_type:
            raise WorkflowValidationError(
                f"workflow {definition.name!r} is invalid",
                [f"the class's input_type {input_type!r} differs from its definition's {definition.input_type!r}"],
            )
        start_groups = getattr(workflow_class, "start_groups", None)
        if start_groups and not definition.start_groups:
            overrides["start_groups"] = start_groups
        if overrides:  # a new definition: the class's own (perhaps cached) one is left as it is
            definition = replace(definition, **overrides)
        self.register_definition(definition)
        self._classes.setdefault(definition.name, {})[definition.version] = workflow_class
        return definition

    def register_definition(self, definition: WorkflowDefinition, *, replace: bool = False) -> None:
        """Validate and register ``definition``.

        Registering the same object twice is a no-op. Another definition under an existing
        name and version is refused unless ``replace`` is set: running instances would change
        behaviour under their feet, so publish a new version instead.
        """
        problems = definition.validate() + self._kind_problems(definition)
        if problems:
            raise WorkflowValidationError(f"workflow {definition.name!r} is invalid", problems)
        versions = self._definitions.setdefault(definition.name, {})
        existing = versions.get(definition.version)
        if existing is not None and existing is not definition and not replace:
            raise WorkflowValidationError(
                f"workflow {definition.name!r} version {definition.version!r} is already registered",
                ["register it under a new version, or pass replace=True"],
            )
        versions[definition.version] = definition
        self._latest[definition.name] = versions[max(versions, key=version_key)]
        _ = definition.graph  # analyse once, now, not on the first run

    def _kind_problems(self, definition: WorkflowDefinition) -> list[str]:
        """What the kinds of ``definition``'s steps refuse (``StepKind.problems``), each kind asked once."""
        kinds: dict[int, StepKind] = {}
        for step in definition.steps.values():
            kind = kind_of(step)
            kinds.setdefault(id(kind), kind)
        return [problem for kind in kinds.values() for problem in kind.problems(definition, self)]

    def get_definition(self, name: str, version: str | None = None) -> WorkflowDefinition:
        """The definition of ``name`` at ``version`` (the latest when None)."""
        if version is None:
            latest = self._latest.get(name)
            if latest is None:
                raise WorkflowNotFoundError(name, version)
            return latest
        versions = self._definitions.get(name)
        if not versions:
            raise WorkflowNotFoundError(name, version)
        try:
            return versions[version]
        except KeyError:
            raise WorkflowNotFoundError(name, version) from None

    def get_workflow_class(self, name: str, version: str | None = None) -> type[Any]:
        """The class registered for ``name`` (latest version when None)."""
        definition = self.get_definition(name, version)
        try:
            return self._classes[name][definition.version]
        except KeyError:
            raise WorkflowNotFoundError(name, definition.version) from None

    def list_definitions(self, active_only: bool = False) -> list[WorkflowDefinition]:
        """The latest version of every workflow, or every version when ``active_only`` is False."""
        result: list[WorkflowDefinition] = []
        for name in sorted(self._definitions):
            versions = self._definitions[name]
            if active_only:
                result.append(versions[max(versions, key=version_key)])
            else:
                result.extend(versions[v] for v in sorted(versions, key=version_key))
        return result

    def get_versions(self, name: str) -> list[str]:
        """Registered versions of ``name``, oldest first."""
        versions = self._definitions.get(name)
        if not versions:
            raise WorkflowNotFoundError(name)
        return sorted(versions, key=version_key)

    def has_workflow(self, name: str, version: str | None = None) -> bool:
        """True if ``name`` (at ``version``, when given) is registered."""
        versions = self._definitions.get(name, {})
        return bool(versions) if version is None else version in versions

    def unregister(self, name: str, version: str | None = None) -> None:
        """Forget ``name`` (one version, or all when None)."""
        if not self.has_workflow(name, version):
            raise WorkflowNotFoundError(name, version)
        if version is None:
            self._definitions.pop(name, None)
            self._classes.pop(name, None)
            self._latest.pop(name, None)
            return
        versions = self._definitions[name]
        versions.pop(version, None)
        self._classes.get(name, {}).pop(version, None)
        if versions:
            self._latest[name] = versions[max(versions, key=version_key)]
        else:
            del self._definitions[name]
            del self._latest[name]
