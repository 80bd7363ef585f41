"""Mermaid output: nodes by kind, edges with condition labels, state classes."""

from __future__ import annotations

from datetime import timedelta

from litestar_workflows import (
    BaseHumanStep,
    Edge,
    ExclusiveGateway,
    TimerStep,
    WebhookStep,
    WorkflowContext,
    WorkflowDefinition,
)
from tests.helpers import SetStep, flow


def is_large(context: WorkflowContext) -> bool:
    return bool(context.get("large"))


def diagram_flow() -> WorkflowDefinition:
    return flow(
        "diagram",
        [
            SetStep("submit"),
            ExclusiveGateway("route"),
            BaseHumanStep("manager approval"),
            TimerStep("cool_off", timedelta(hours=1)),
            WebhookStep("payment"),
            SetStep("end"),
        ],
        [
            ("submit", "route"),
            Edge("route", "manager approval", is_large),
            Edge("route", "cool_off", 'kind == "a|b"'),
            Edge("route", "payment", lambda c: True),
            ("manager approval", "end"),
            ("cool_off", "end"),
            ("payment", "end"),
        ],
        "submit",
        ["end"],
    )


def test_nodes_and_edges() -> None:
    lines = diagram_flow().to_mermaid().splitlines()
    assert lines[0] == "flowchart TD"
    assert '    submit["submit"]' in lines
    assert '    route{"route"}' in lines
    assert '    manager_approval[/"manager approval"/]' in lines
    assert '    cool_off(("cool_off"))' in lines
    assert '    payment(("payment"))' in lines
    # "end" is a Mermaid keyword: the node id gets a suffix, the label stays.
    assert '    end_(["end"])' in lines
    assert "    submit --> route" in lines
    assert "    route -->|is_large| manager_approval" in lines
    assert "    route -->|kind == #quot;a#124;b#quot;| cool_off" in lines
    assert "    route -->|condition| payment" in lines
    assert "    cool_off --> end_" in lines
    assert not any("classDef" in line for line in lines)


def test_state_classes() -> None:
    text = diagram_flow().to_mermaid_with_state(
        current_step="manager approval",
        completed_steps=["submit", "route"],
        failed_steps=["payment", "not-a-step"],
    )
    lines = text.splitlines()
    assert "    class submit,route completed" in lines
    assert "    class payment failed" in lines
    assert "    class manager_approval current" in lines
    assert any(line.startswith("    classDef completed ") for line in lines)
    assert any(line.startswith("    classDef failed ") for line in lines)
    assert any(line.startswith("    classDef current ") for line in lines)
    assert "not" not in "".join(line for line in lines if line.startswith("    class "))

    several = diagram_flow().to_mermaid_with_state(current_step=["payment", "cool_off"])
    assert "    class payment,cool_off current" in several.splitlines()
    assert "classDef completed" not in several
