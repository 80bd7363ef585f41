"""Pages generated from the code at build time, so they cannot fall behind it.

- ``<!-- lsw:openapi -->`` in a page becomes the REST API reference: every operation and schema of
  the expense example app's OpenAPI document, which is also written to ``openapi.json`` at the
  site's root.
- ``<!-- lsw:cli -->`` becomes the ``litestar workflows ...`` command reference (each command's
  ``--help``).
- ``<!-- lsw:mermaid module:name -->`` becomes the Mermaid diagram of that workflow definition
  (``name`` is a definition, or a function returning one), drawn by ``to_mermaid()``.

The markers are HTML comments, so the pages read fine on GitHub too. The text is generated as
Markdown and spliced into the page source (``source-read``), so its headings are ordinary sections.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

__all__ = ("cli_markdown", "mermaid_markdown", "openapi_document", "openapi_markdown", "setup")

OPENAPI_MARKER = "<!-- lsw:openapi -->"
CLI_MARKER = "<!-- lsw:cli -->"
MERMAID_MARKER = re.compile(r"<!-- lsw:mermaid ([\w.]+):(\w+) -->")
OPENAPI_FILE = "openapi.json"
_METHODS = ("get", "post", "put", "patch", "delete")


def openapi_document() -> dict[str, Any]:
    """The expense example app's OpenAPI document (in-memory persistence: nothing is opened)."""
    from examples.expense.app import create_app
    from litestar_workflows import InMemoryPersistence

    return create_app(InMemoryPersistence()).openapi_schema.to_schema()


def _cell(text: str) -> str:
    """Text for one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _type_of(schema: dict[str, Any]) -> str:
    """A short readable type: ``string``, ``list of StepRecord``, ``TaskStatus or null``."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " or ".join(_type_of(option) for option in schema[key])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return "list of " + _type_of(schema.get("items", {}))
    if kind == "string" and "format" in schema:
        return f"string ({schema['format']})"
    if kind == "object" and "properties" in schema:
        return "{" + ", ".join(f"`{name}`: {_type_of(field)}" for name, field in schema["properties"].items()) + "}"
    return str(kind)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _limits(schema: dict[str, Any]) -> str:
    """The constraints a client must respect, in words."""
    words = []
    for key, text in (
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("minimum", "at least {}"),
        ("exclusiveMinimum", "more than {}"),
        ("maximum", "at most {}"),
    ):
        if key in schema:
            words.append(text.format(_number(schema[key])))
    if schema.get("pattern") == "^[^\\x00]*$":
        words.append("no NUL character")
    return "; ".join(words)


def _describe(schema: dict[str, Any], fallback: str = "") -> str:
    description, limits = schema.get("description") or fallback, _limits(schema)
    if description and limits:
        return _cell(f"{description.rstrip('.')}; {limits}.")
    return _cell(description or (limits.capitalize() + "." if limits else ""))


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation), grouped by the resource the path names, in path order."""
    found = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in _METHODS
    ]
    yield from sorted(found, key=lambda op: (op[1].split("/")[2], op[1], _METHODS.index(op[0])))


def _operation_markdown(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    lines = [f"### {method.upper()} `{path}`", "", f"**{operation.get('summary', '')}.**", ""]
    if operation.get("description"):
        lines += [operation["description"], ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| Parameter | In | Type | Required | Description |", "| --- | --- | --- | --- | --- |"]
        for parameter in parameters:
            schema = parameter.get("schema", {})
            required = "yes" if parameter.get("required") else "no"
            description = _describe(schema, parameter.get("description", ""))
            kind = _cell(_type_of(schema))
            lines.append(f"| `{parameter['name']}` | {parameter['in']} | {kind} | {required} | {description} |")
        lines.append("")
    body = operation.get("requestBody")
    if body:
        schema = body["content"]["application/json"]["schema"]
        lines += [f"Request body (JSON): {_type_of(schema)}.", ""]
    lines += ["| Status | Meaning | Body |", "| --- | --- | --- |"]
    for status, response in sorted(operation.get("responses", {}).items()):
        content = response.get("content", {})
        schema = next(iter(content.values()), {}).get("schema", {}) if content else {}
        if "status_code" in schema.get("properties", {}):
            shape = "an error: `{status_code, detail, extra}`"
        elif content:
            shape = _type_of(schema)
        else:
            shape = ""
        lines.append(f"| {status} | {_cell(response.get('description', ''))} | {_cell(shape)} |")
    return [*lines, ""]


def _schema_markdown(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [schema["description"], ""]
    if "enum" in schema:
        return [*lines, "One of " + ", ".join(f"`{value}`" for value in schema["enum"]) + ".", ""]
    required = set(schema.get("required", []))
    lines += ["| Field | Type | Required | Description |", "| --- | --- | --- | --- |"]
    for field, field_schema in schema.get("properties", {}).items():
        lines.append(
            f"| `{field}` | {_cell(_type_of(field_schema))} | {'yes' if field in required else 'no'} "
            f"| {_describe(field_schema)} |"
        )
    if schema.get("additionalProperties") is False:
        lines += ["", "Other fields are refused."]
    return [*lines, ""]


def openapi_markdown(document: dict[str, Any]) -> str:
    """The reference section of the REST API page, from an OpenAPI document."""
    lines = ["## Endpoints", ""]
    for method, path, operation in _operations(document):
        lines += _operation_markdown(method, path, operation)
    lines += ["## Schemas", ""]
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        lines += _schema_markdown(name, schema)
    return "\n".join(lines)


def cli_markdown() -> str:
    """Each ``litestar workflows`` command with its ``--help`` text."""
    import click

    from litestar_workflows.cli import workflows_group

    lines: list[str] = []
    group_context = click.Context(workflows_group, info_name="litestar workflows")
    for name in workflows_group.list_commands(group_context):
        command = workflows_group.get_command(group_context, name)
        assert command is not None
        context = click.Context(command, info_name=f"litestar workflows {name}", parent=None)
        lines += [f"### {name}", "", "```text", command.get_help(context), "```", ""]
    return "\n".join(lines)


def mermaid_markdown(module: str, name: str) -> str:
    """A ```mermaid fence with the diagram of the definition ``module.name`` (or ``module.name()``)."""
    definition = getattr(importlib.import_module(module), name)
    if callable(definition):
        definition = definition()
    return "```mermaid\n" + definition.to_mermaid().rstrip() + "\n```"


def _splice(app: Sphinx, docname: str, source: list[str]) -> None:
    text = MERMAID_MARKER.sub(lambda match: mermaid_markdown(match[1], match[2]), source[0])
    if OPENAPI_MARKER in text:
        text = text.replace(OPENAPI_MARKER, openapi_markdown(openapi_document()))
    if CLI_MARKER in text:
        text = text.replace(CLI_MARKER, cli_markdown())
    source[0] = text


def _write_openapi(app: Sphinx, exception: BaseException | None) -> None:
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / OPENAPI_FILE
        target.write_text(json.dumps(openapi_document(), indent=2) + "\n", encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("source-read", _splice)
    app.connect("build-finished", _write_openapi)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
