"""An expense approval: submit, a manager approves or rejects, then process or reject.

    submit -> manager_approval (human task) -> decide -> process   (approved)
                                                      -> reject    (not approved)

The manager is whoever the start data names under ``manager``. Their form has two fields,
``approved`` (required) and ``comment``; anything else they send is dropped, so the form cannot
overwrite other keys such as ``amount``.
"""

from __future__ import annotations

from typing import Any

from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    Edge,
    ExclusiveGateway,
    Step,
    WorkflowContext,
    WorkflowDefinition,
)

__all__ = ("APPROVAL_FORM", "ExpenseApproval", "ProcessExpense", "RejectExpense", "SubmitExpense")

APPROVAL_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "title": "Approve this expense?"},
        "comment": {"type": "string", "title": "Comment", "maxLength": 500},
    },
    "required": ["approved"],
}
"""JSON Schema of the manager's form (also what a UI would render)."""


class SubmitExpense(BaseMachineStep):
    """Check the request and record that it was submitted."""

    name = "submit"
    description = "Validate the request and mark it submitted."

    async def execute(self, context: WorkflowContext) -> dict[str, Any]:
        amount = context.get("amount")
        if not isinstance(amount, int | float) or amount <= 0:
            msg = f"amount must be a positive number, got {amount!r}"
            raise ValueError(msg)
        context.set("submitted", True)
        return {"requester": context.get("requester"), "amount": amount}


class ProcessExpense(BaseMachineStep):
    """The approved path: hand the expense over for payment."""

    name = "process"
    description = "Schedule the approved expense for payment."

    async def execute(self, context: WorkflowContext) -> str:
        # A real step would call the payment system here, passing context.idempotency_key so a
        # re-run after a crash does not pay twice.
        context.set("outcome", "paid")
        return "paid"


class RejectExpense(BaseMachineStep):
    """The rejected path: record why."""

    name = "reject"
    description = "Record the rejection and tell the requester."

    async def execute(self, context: WorkflowContext) -> str:
        context.set("outcome", "rejected")
        context.set("rejection_reason", context.get("comment") or "no reason given")
        return "rejected"


class ExpenseApproval:
    """A workflow class: the engine and the registry accept it wherever they accept a definition."""

    name = "expense_approval"
    version = "1.0.0"
    description = "Submit an expense; the manager approves it or rejects it."

    @classmethod
    def get_definition(cls) -> WorkflowDefinition:
        """Build the definition (a fresh one each call; the registry keeps the first it sees)."""
        steps: list[Step] = [
            SubmitExpense(),
            BaseHumanStep(
                "manager_approval",
                title="Approve expense",
                description="Approve or reject the expense; a comment is optional.",
                form_schema=APPROVAL_FORM,
                assignee_key="manager",
            ),
            ExclusiveGateway("decide", description="Branch on the manager's answer."),
            ProcessExpense(),
            RejectExpense(),
        ]
        return WorkflowDefinition(
            name=cls.name,
            version=cls.version,
            description=cls.description,
            steps={step.name: step for step in steps},
            edges=[
                Edge("submit", "manager_approval"),
                Edge("manager_approval", "decide"),
                # The gateway takes the first edge whose condition holds (see docs/concepts.md).
                Edge("decide", "process", "approved == true"),
                Edge("decide", "reject", "approved != true"),
            ],
            initial_step="submit",
            terminal_steps={"process", "reject"},
        )
