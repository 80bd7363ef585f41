"""Steps whose own database writes commit exactly once, with the step's recorded result."""

from __future__ import annotations

from typing import ClassVar

from litestar_workflows.core.kinds import TRANSACTIONAL, StepKind
from litestar_workflows.steps.base import BaseMachineStep

__all__ = ("TransactionalStep",)


class TransactionalStep(BaseMachineStep):
    """A machine step that runs inside the transaction recording its result.

    ``context.session`` is that transaction's session (an SQLAlchemy ``AsyncSession`` with the
    SQL persistence). Rows the step writes with it commit together with the step's result and
    the instance's next state: if the process dies first, neither happened and the step runs
    again; once committed, it never runs again. So its effect on the database happens exactly
    once, where a plain step's side effects happen at least once. Don't commit the session
    yourself, and keep the step short: it holds a write transaction while it runs. A failed
    attempt's writes are rolled back.
    """

    transactional: ClassVar[bool] = True
    step_kind: ClassVar[StepKind] = TRANSACTIONAL
