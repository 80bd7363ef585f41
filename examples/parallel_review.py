"""Three reviews in parallel, one summary once all of them are in.

    intake -> fork -> legal_review     -> summarise -> finish
                   -> finance_review   ->
                   -> technical_review ->

``fork`` is a ParallelGateway: every branch starts at once. ``summarise`` has three incoming
edges, which makes it a join: it runs once, after all three branches have arrived, and sees what
each of them wrote. The reviews take different times on purpose; the result does not depend on
which one finishes first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar_workflows import BaseMachineStep, Edge, ParallelGateway, Step, WorkflowContext, WorkflowDefinition

__all__ = ("REVIEW_AREAS", "FinishReview", "Intake", "ParallelReview", "Review", "Summarise")

REVIEW_AREAS = ("legal", "finance", "technical")
"""Branch order of the fork (also the order in which the branches' data is merged)."""


class Intake(BaseMachineStep):
    """Record what is being reviewed."""

    name = "intake"
    description = "Register the proposal for review."

    async def execute(self, context: WorkflowContext) -> str:
        title = str(context.get("title", "untitled proposal"))
        context.set("title", title)
        return title


class Review(BaseMachineStep):
    """One reviewer's verdict, written under ``<area>_review``.

    Each branch writes only its own key, so no branch overwrites another's result.
    """

    def __init__(self, area: str, delay: float) -> None:
        super().__init__(f"{area}_review", f"The {area} review.")
        self.area = area
        self.delay = delay

    async def execute(self, context: WorkflowContext) -> dict[str, Any]:
        await asyncio.sleep(self.delay)  # stands in for a call to another system
        concerns = self.concerns(context)
        verdict: dict[str, Any] = {"area": self.area, "approved": not concerns, "concerns": concerns}
        context.set(f"{self.area}_review", verdict)
        return verdict

    def concerns(self, context: WorkflowContext) -> list[str]:
        """What this reviewer objects to (an empty list approves)."""
        budget = context.get("budget", 0)
        if self.area == "legal" and context.get("personal_data", False):
            return ["processes personal data: needs a data processing agreement"]
        if self.area == "finance" and budget > 50_000:
            return [f"budget {budget} is above the 50000 limit"]
        if self.area == "technical" and not context.get("design_doc"):
            return ["no design document linked"]
        return []


class Summarise(BaseMachineStep):
    """The join: runs once, with all three verdicts in the context."""

    name = "summarise"
    description = "Combine the three reviews into one decision."

    async def execute(self, context: WorkflowContext) -> dict[str, Any]:
        verdicts = [context.get(f"{area}_review") for area in REVIEW_AREAS]
        missing = [area for area, verdict in zip(REVIEW_AREAS, verdicts, strict=True) if verdict is None]
        if missing:
            msg = f"reviews missing at the join: {missing}"
            raise RuntimeError(msg)
        concerns = [concern for verdict in verdicts for concern in verdict["concerns"]]
        summary: dict[str, Any] = {"approved": not concerns, "concerns": concerns, "reviews": len(verdicts)}
        context.set("review_summary", summary)
        return summary


class FinishReview(BaseMachineStep):
    """Close the review with its decision."""

    name = "finish"
    description = "Publish the decision."

    async def execute(self, context: WorkflowContext) -> str:
        decision = "accepted" if context.get("review_summary", {}).get("approved") else "changes requested"
        context.set("decision", decision)
        return decision


class ParallelReview:
    """Legal, finance and technical review in parallel, then a summary."""

    name = "parallel_review"
    version = "1.0.0"
    description = "Three reviews at once, joined into one decision."

    @classmethod
    def get_definition(cls) -> WorkflowDefinition:
        """Build the definition."""
        # Delays make the branches finish in the order technical, legal, finance.
        reviews = [Review("legal", 0.02), Review("finance", 0.04), Review("technical", 0.0)]
        steps: list[Step] = [
            Intake(),
            ParallelGateway("fork", branches=[review.name for review in reviews]),
            *reviews,
            Summarise(),
            FinishReview(),
        ]
        return WorkflowDefinition(
            name=cls.name,
            version=cls.version,
            description=cls.description,
            steps={step.name: step for step in steps},
            edges=[
                Edge("intake", "fork"),
                # fork -> each review is implied by the gateway's branches.
                *(Edge(review.name, "summarise") for review in reviews),
                Edge("summarise", "finish"),
            ],
            initial_step="intake",
            terminal_steps={"finish"},
        )
