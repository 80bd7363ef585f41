"""Expense approval behind the REST API, with demo users, parallel reviews and escalation.

    uvicorn examples.expense.app:app

The flow::

    submit -> manager_approval (group "managers") -> manager_decision
        rejected by the manager                     -> rejected
        approved, amount <= 1000                    -> finance_review (group "finance") -> collect_reviews
        approved, amount > 1000  -> legal_and_finance: finance_review + legal_review (group "legal"),
                                    joined at collect_reviews
    collect_reviews -> pay (every review approved) | rejected

The start data and every decision are typed (msgspec Structs): a start without a positive
``amount`` and a ``description`` is a 400 naming the fields, and no instance is created; each
reviewer's form takes its own decision and comment keys and nothing else, so no form can
overwrite the amount or another reviewer's answer. The requester is the caller, never the body.

A manager approval still open after ``escalate_after`` is overdue: a timer loop in the app
assigns it to ``admin``, so it shows up in that user's inbox (``GET /workflows/tasks?mine=true``).

Authentication is a demo stand-in: the ``X-User`` header names the caller and ``X-Groups``
(comma-separated) lists their groups; without ``X-Groups`` the groups of the demo users below
apply. Requests without ``X-User`` are anonymous, and the workflow API answers them 401; an
expense is visible to its requester, to the reviewers it has tasks for and to ``admin``. Never
use header authentication like this in a real app. State is kept in
``expense.sqlite3`` unless the ``EXPENSE_DATABASE_URL`` environment variable names another database
(an async SQLAlchemy URL such as ``postgresql+asyncpg://user@host/db``). With ``EXPENSE_QUEUE_URL``
set (``redis://localhost:6379/0`` or ``postgresql://user@host/db``), the app runs in queue mode:
``litestar --app examples.expense.app:app run`` serves the API and runs no steps, and each
``litestar --app examples.expense.app:app workers run`` is a worker process running them (the
database must then be PostgreSQL, shared by all of them). Try it::

    curl -X POST localhost:8000/workflows/instances -H 'X-User: alice' -H 'Content-Type: application/json' \\
         -d '{"workflow": "expense", "data": {"amount": 2500, "description": "conference"}}'
    curl localhost:8000/workflows/tasks -H 'X-User: bob'
    curl -X POST localhost:8000/workflows/tasks/<task id>/complete -H 'X-User: bob' \\
         -H 'Content-Type: application/json' -d '{"manager_approved": true}'
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware

from examples.expense.demo_login import DEMO_COOKIE, demo_login_handlers
from litestar_workflows import (
    BaseHumanStep,
    BaseMachineStep,
    Edge,
    ExclusiveGateway,
    ParallelGateway,
    Step,
    TaskStatus,
    WorkflowContext,
    WorkflowDefinition,
    WorkflowPersistence,
    WorkflowPlugin,
    WorkflowPluginConfig,
)
from litestar_workflows.engine.persistence import TaskQuery
from litestar_workflows.queue import WorkflowQueueConfig
from litestar_workflows.ui import UIConfig

__all__ = (
    "CSRF_SECRET_VARIABLE",
    "DATABASE_URL_VARIABLE",
    "DEMO_USERS",
    "LEGAL_REVIEW_ABOVE",
    "QUEUE_URL_VARIABLE",
    "DemoUser",
    "ExpenseRequest",
    "FinanceDecision",
    "HeaderAuthMiddleware",
    "LegalDecision",
    "ManagerDecision",
    "app",
    "create_app",
    "escalate_overdue_tasks",
    "expense_workflow",
)

logger = logging.getLogger("examples.expense")

DATABASE_URL_VARIABLE = "EXPENSE_DATABASE_URL"
"""Environment variable naming the app's database (default: ``expense.sqlite3`` in the working directory)."""

QUEUE_URL_VARIABLE = "EXPENSE_QUEUE_URL"
"""Environment variable naming a Redis or PostgreSQL queue: steps then run on worker processes (``[saq]`` extra)."""

CSRF_SECRET_VARIABLE = "EXPENSE_CSRF_SECRET"
"""Environment variable with the secret signing the demo's CSRF tokens (a fixed demo value otherwise)."""

LEGAL_REVIEW_ABOVE = 1000
"""Expenses above this amount also need a legal review."""

DEMO_USERS: dict[str, tuple[str, ...]] = {
    "alice": ("employees",),
    "bob": ("managers",),
    "carol": ("finance",),
    "dave": ("legal",),
    "admin": ("admin",),
}
"""Demo users and their groups (used when a request sends no ``X-Groups`` header)."""


Comment = Annotated[str, msgspec.Meta(max_length=500, title="Comment")]


class ExpenseRequest(msgspec.Struct, kw_only=True):
    """What an employee submits (the start data of an expense)."""

    amount: Annotated[float, msgspec.Meta(gt=0, title="Amount")]
    description: Annotated[str, msgspec.Meta(pattern=r"\S", max_length=500, title="What it was for")]


class ManagerDecision(msgspec.Struct, kw_only=True):
    """The manager's answer."""

    manager_approved: Annotated[bool, msgspec.Meta(title="Approve this expense?")]
    manager_comment: Comment | None = None


class FinanceDecision(msgspec.Struct, kw_only=True):
    """Finance's answer."""

    finance_approved: Annotated[bool, msgspec.Meta(title="Budget available?")]
    finance_comment: Comment | None = None


class LegalDecision(msgspec.Struct, kw_only=True):
    """Legal's answer."""

    legal_approved: Annotated[bool, msgspec.Meta(title="Compliant?")]
    legal_comment: Comment | None = None


class SubmitExpense(BaseMachineStep):
    """Record the submission (the request was checked against ``ExpenseRequest`` before it started)."""

    name = "submit"
    description = "Record the expense."

    async def execute(self, context: WorkflowContext) -> dict[str, Any]:
        request = context.get_form(ExpenseRequest)
        context.set("submitted", True)
        return {"requester": context.get("requester"), "amount": request.amount}


class CollectReviews(BaseMachineStep):
    """Join of the reviews: approved when finance (and legal, when it reviewed) approved."""

    name = "collect_reviews"
    description = "Combine the finance and legal reviews."

    async def execute(self, context: WorkflowContext) -> bool:
        approved = context.get("finance_approved") is True and context.get("legal_approved", True) is True
        context.set("approved", approved)
        return approved


class Pay(BaseMachineStep):
    """Hand the expense to payments (a real step would pass ``context.idempotency_key`` along)."""

    name = "pay"
    description = "Schedule the payment."

    async def execute(self, context: WorkflowContext) -> str:
        context.set("outcome", "paid")
        return "paid"


class Reject(BaseMachineStep):
    """Record the rejection."""

    name = "rejected"
    description = "Tell the requester the expense was rejected."

    async def execute(self, context: WorkflowContext) -> str:
        context.set("outcome", "rejected")
        return "rejected"


def expense_workflow(escalate_after: timedelta = timedelta(days=2)) -> WorkflowDefinition:
    """The expense workflow; the manager's task is due ``escalate_after`` after it opens."""
    steps: list[Step] = [
        SubmitExpense(),
        BaseHumanStep(
            "manager_approval",
            title="Approve expense",
            description="Approve or reject the expense.",
            form=ManagerDecision,
            candidate_groups=["managers"],
            due_in=escalate_after,
        ),
        ExclusiveGateway("manager_decision", description="Branch on the manager's answer."),
        ExclusiveGateway("route_by_amount", description=f"Legal reviews expenses above {LEGAL_REVIEW_ABOVE}."),
        ParallelGateway("legal_and_finance", ["finance_review", "legal_review"], "Both reviews at once."),
        BaseHumanStep(
            "finance_review",
            title="Finance review",
            form=FinanceDecision,
            candidate_groups=["finance"],
        ),
        BaseHumanStep(
            "legal_review",
            title="Legal review",
            form=LegalDecision,
            candidate_groups=["legal"],
        ),
        CollectReviews(),
        Pay(),
        Reject(),
    ]
    return WorkflowDefinition(
        name="expense",
        version="1",
        description="Submit an expense; a manager approves, finance (and legal, above the limit) review it.",
        steps={step.name: step for step in steps},
        edges=[
            Edge("submit", "manager_approval"),
            Edge("manager_approval", "manager_decision"),
            Edge("manager_decision", "route_by_amount", "manager_approved == true"),
            Edge("manager_decision", "rejected", "manager_approved != true"),
            Edge("route_by_amount", "legal_and_finance", f"amount > {LEGAL_REVIEW_ABOVE}"),
            Edge("route_by_amount", "finance_review", f"amount <= {LEGAL_REVIEW_ABOVE}"),
            Edge("finance_review", "collect_reviews"),
            Edge("legal_review", "collect_reviews"),
            Edge("collect_reviews", "pay", "approved == true"),
            Edge("collect_reviews", "rejected", "approved != true"),
        ],
        initial_step="submit",
        terminal_steps={"pay", "rejected"},
        input_type=ExpenseRequest,
    )


# --- demo authentication ------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    """What ``request.user`` holds: the plugin's default identity resolver reads ``id`` and ``groups``."""

    id: str
    groups: tuple[str, ...] = field(default_factory=tuple)


class HeaderAuthMiddleware(AbstractAuthenticationMiddleware):
    """DEMO ONLY: trusts the ``X-User`` and ``X-Groups`` headers, else the ``demo_user`` cookie of the
    demo's user switch (``/demo/login``). Requests with neither are anonymous."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        user_id = connection.headers.get("x-user", "").strip()
        if not user_id:
            chosen = connection.cookies.get(DEMO_COOKIE, "")
            if chosen not in DEMO_USERS:
                return AuthenticationResult(user=None, auth=None)
            return AuthenticationResult(user=DemoUser(chosen, DEMO_USERS[chosen]), auth=None)
        header = connection.headers.get("x-groups")
        if header is None:
            groups = DEMO_USERS.get(user_id, ())
        else:
            groups = tuple(group.strip() for group in header.split(",") if group.strip())
        return AuthenticationResult(user=DemoUser(user_id, groups), auth=None)


# --- escalation ---------------------------------------------------------------------------------


async def escalate_overdue_tasks(persistence: WorkflowPersistence, escalate_to: str, now: datetime) -> list[UUID]:
    """Assign every overdue task still offered to a group to ``escalate_to``; returns their ids.

    Tasks already assigned to someone (including ones reassigned after an escalation) are left alone.
    """
    escalated: list[UUID] = []
    offset = 0
    while True:
        tasks, total = await persistence.query_tasks(TaskQuery(status=TaskStatus.OPEN, limit=200, offset=offset))
        for task in tasks:
            if task.due_at is not None and task.due_at <= now and task.assignee is None:
                await persistence.update_open_task(task.id, assignee=escalate_to, claimed_by=None)
                escalated.append(task.id)
        offset += len(tasks)
        if not tasks or offset >= total:
            return escalated


def _escalation_loop(escalate_to: str, interval: float) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    async def sweep_forever(plugin: WorkflowPlugin) -> None:
        while True:
            try:
                for task_id in await escalate_overdue_tasks(plugin.persistence, escalate_to, datetime.now(UTC)):
                    logger.info("task %s is overdue: assigned to %s", task_id, escalate_to)
            except Exception:
                logger.exception("escalation sweep failed")
            await asyncio.sleep(interval)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        task = asyncio.create_task(sweep_forever(app.plugins.get(WorkflowPlugin)))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan


def create_app(
    persistence: WorkflowPersistence | None = None,
    *,
    escalate_after: timedelta = timedelta(days=2),
    escalation_interval: float = 60.0,
    database_url: str | None = None,
    queue_url: str | None = None,
) -> Litestar:
    """The expense app (tests pass in-memory persistence and short escalation times).

    ``database_url`` (default: the ``EXPENSE_DATABASE_URL`` environment variable, else ``expense.sqlite3``)
    is used when no ``persistence`` is given. ``queue_url`` (default: ``EXPENSE_QUEUE_URL``; none: one
    process serves and runs everything) puts the steps on SAQ workers.
    """
    if database_url is None:
        database_url = os.environ.get(DATABASE_URL_VARIABLE) or "sqlite+aiosqlite:///expense.sqlite3"
    queue_url = queue_url or os.environ.get(QUEUE_URL_VARIABLE) or None
    config = WorkflowPluginConfig(
        workflows=[expense_workflow(escalate_after)],
        persistence=persistence,
        database_url=database_url,
        admin_role="admin",
        started_by_key="requester",
        queue=None if queue_url is None else WorkflowQueueConfig(queue_url),
        ui=UIConfig(
            title="Expense demo",
            login_url="/demo/login",
            links=[("Switch demo user", "/demo/login")],
        ),
    )
    return Litestar(
        route_handlers=demo_login_handlers(DEMO_USERS),
        plugins=[WorkflowPlugin(config)],
        middleware=[DefineMiddleware(HeaderAuthMiddleware, exclude=["/schema"])],
        lifespan=[_escalation_loop("admin", escalation_interval)],
        # Forms posted from browsers (the UI, the demo's user switch) carry a CSRF token. The JSON API
        # is left out: the demo's curl walk-through authenticates by header, which no other site can set,
        # and the demo cookie is SameSite=Strict. The secret is fixed so tokens survive restarts: DEMO ONLY.
        csrf_config=CSRFConfig(
            secret=os.environ.get(CSRF_SECRET_VARIABLE) or "expense-demo-only-not-a-secret",
            exclude=[r"^/workflows/(definitions|instances|tasks)"],
        ),
    )


app = create_app()
