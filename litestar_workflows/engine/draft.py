"""The change being built: a copy of an instance's committed state, moved token by token.

:class:`Transition` is the reducer's working copy (``transitions.apply_command`` builds one per
command). It places tokens (entering a step asks the step's kind what happens: run, wait, arm a
timer, open a task), fires joins, settles the instance status, and collects what the commit
writes besides the state: executions, opened and closed tasks, events, and kinds' effects.
Pure state manipulation, no I/O.

Execution is modelled with tokens. A step that finishes moves its token along every outgoing
edge whose condition holds (several edges: a fork, one token per branch). A step with several
incoming sources is a join: arriving tokens wait (ARRIVED) until no other live token can still
reach the join, then merge into one token that runs the join step once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar_workflows.core.context import StepExecution
from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import WorkflowValidationError
from litestar_workflows.core.ids import time_ordered_uuid
from litestar_workflows.core.models import BranchData, HumanTaskData, Token, WorkflowInstanceData
from litestar_workflows.core.types import TaskStatus, TokenStatus, WorkflowStatus
from litestar_workflows.core.values import MAX_NAME_LENGTH, text_problem
from litestar_workflows.engine.branches import (
    Changes,
    common_prefix,
    merge_branches,
    merge_into,
    record_writes,
    step_context,
    view_of,
)
from litestar_workflows.engine.persistence import InstanceChange, TaskClosure

__all__ = ("Linked", "Transition")


@dataclass(slots=True)
class Linked:
    """A change of another instance that commits with a transition (``InstanceChange.linked``)."""

    transition: Transition
    previous: WorkflowInstanceData | None
    """The committed state it was built from (None: it creates the instance)."""
    change: InstanceChange | None = None
    """The change as prepared for the commit (after it, ``lease_held`` says who advances the instance)."""


class Transition:
    """One change of one instance, built on a copy of its committed state."""

    __slots__ = (
        "acknowledged",
        "closed_tasks",
        "definition",
        "effects",
        "events",
        "executions",
        "graph",
        "linked",
        "now",
        "opened_tasks",
        "state",
        "status_before",
    )

    def __init__(
        self, definition: WorkflowDefinition, committed: WorkflowInstanceData, now: datetime, *, fresh: bool = False
    ) -> None:
        self.definition = definition
        self.graph = definition.graph
        self.now = now
        # The history list is shared: persistence appends the new executions after a successful commit.
        # ``fresh``: ``committed`` is a new, never committed instance the caller hands over (no copy).
        self.state = committed if fresh else committed.copy()
        self.state.revision = committed.revision + 1
        self.status_before = committed.status
        """The status as committed: the commit writes the status column only if it changed."""
        self.executions: list[StepExecution] = []
        self.opened_tasks: list[HumanTaskData] = []
        self.closed_tasks: list[TaskClosure] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.effects: list[tuple[str, object]] = []
        """(token id, effect) of the steps entered: what their kinds carry out along with the commit."""
        self.linked: list[Linked] = []
        """Changes of other instances to commit with this one, linked by kinds' handlers (``engine.effects``)."""
        self.acknowledged = True
        """The command came from a caller who is answered once this commits (False: machine progress)."""

    def flushes(self) -> bool:
        """True if this change must be on disk before the engine goes on (``InstanceChange.flush``).

        Someone learns of it when it commits: the caller of the command, a ``wait_for`` (the
        instance ended or waits), a person (a task opened). Machine progress from one machine
        step to the next may wait for the next flushed commit: if the machine loses power first,
        the instance resumes from the last flushed commit and those steps run again, as they
        would after a crash in the middle of one of them.
        """
        return self.acknowledged or self.state.status is not WorkflowStatus.RUNNING or bool(self.opened_tasks)

    def to_change(self, expected_revision: int) -> InstanceChange:
        """The atomic change to commit."""
        return InstanceChange(
            instance=self.state,
            expected_revision=expected_revision,
            executions=self.executions,
            opened_tasks=self.opened_tasks,
            closed_tasks=self.closed_tasks,
        )

    def token(self, token_id: str) -> Token | None:
        """The live token with this id, or None."""
        for token in self.state.tokens:
            if token.id == token_id:
                return token
        return None

    def new_token(self, step: str, parent: Token, branch: tuple[int, ...]) -> Token:
        state = self.state
        token_id = f"t{state.next_token}"
        state.next_token += 1
        return Token(
            token_id,
            step,
            TokenStatus.READY,
            branch,
            dict(parent.delta) if parent.delta else {},
            parent.removed,
            None,
            1,
            None,
            dict(parent.writers) if parent.writers else {},
        )

    def move_on(self, token: Token, changes: Changes, execution: StepExecution, chosen: list[str] | None) -> None:
        """``token``'s step finished: record it, apply its writes, move on.

        ``chosen`` overrides the edge evaluation (gateways); None evaluates the edge conditions.
        """
        self.executions.append(execution)
        self.events.append(
            (
                "step.succeeded",
                {"step_name": token.step, "attempt": execution.attempt, "status": execution.status},
            )
        )
        state = self.state
        state.tokens.remove(token)
        if not state.tokens and not state.ended_branches and not token.delta and not token.removed:
            # The only live token, with no earlier branch-local writes: the step's writes become
            # instance data at once (as below), without passing through the token's delta first.
            if changes.set or changes.removed:
                merge_into(state.context.data, changes.set, changes.removed)
            token.writers = {}
        else:
            record_writes(token, changes)
            if not state.tokens and not state.ended_branches and (token.delta or token.removed):
                # The only live token: its writes become instance data now, so branches forked from
                # it do not each carry a copy that a later branch would re-apply over an earlier one's.
                merge_into(state.context.data, token.delta, token.removed)
                token.delta, token.removed, token.writers = {}, (), {}
        if chosen is None:
            if token.step in self.definition.terminal_steps:
                chosen = []
            elif (fixed := self.graph.unconditional.get(token.step)) is not None:
                chosen = list(fixed)
            else:
                context = step_context(self.state, token, view_of(self.state, token))
                chosen = self.graph.get_next_steps(token.step, context)
                if not chosen:
                    self.fail(f"no outgoing edge of step {token.step!r} matched; the instance cannot continue")
                    self.state.tokens.append(token)
                    return
        if not chosen:
            ended = BranchData(token.branch, token.delta, token.removed, token.writers)
            self.state.ended_branches = (*self.state.ended_branches, ended)
        forked = len(chosen) > 1
        for index, target in enumerate(chosen):
            self.enter(self.new_token(target, token, (*token.branch, index) if forked else token.branch))
        self.settle()

    def fail(self, error: str) -> None:
        """Mark the instance FAILED; open tasks are cancelled (a retry opens them again)."""
        self.state.status = WorkflowStatus.FAILED
        self.state.error = error
        self.state.completed_at = self.now
        self.close_open_tasks()
        self.events.append(("workflow.failed", {"error": error}))

    def close_open_tasks(self) -> None:
        for token in self.state.tokens:
            if token.task_id is not None:
                self.closed_tasks.append(TaskClosure(token.task_id, TaskStatus.CANCELED, completed_at=self.now))
                token.task_id = None

    def enter(self, token: Token) -> None:
        if self.graph.is_join(token.step):
            token.status = TokenStatus.ARRIVED
            self.state.tokens.append(token)
        else:
            self.activate(token)

    def activate(self, token: Token) -> None:
        """Put ``token`` on its step; the step's kind says what entering it does."""
        step = self.definition.steps[token.step]
        self.state.tokens.append(token)
        token.status = TokenStatus.READY
        token.not_before = None
        entry = self.graph.kinds[token.step].enter(
            step, lambda: step_context(self.state, token, view_of(self.state, token))
        )
        if entry.failure is not None:
            self.fail(entry.failure)
            return
        if entry.waits:
            token.status = TokenStatus.WAITING
        if entry.delay is not None:
            token.not_before = self.now + entry.delay
        if entry.opens_task:
            self._open_task(token, step)
        if entry.effect is not None:
            self.effects.append((token.id, entry.effect))

    def _open_task(self, token: Token, step: Any) -> None:
        view = view_of(self.state, token)
        found = view.get(step.assignee_key) if step.assignee_key else None
        assignee = None if found is None else str(found)
        problem = None if assignee is None else text_problem(assignee, MAX_NAME_LENGTH)
        if problem is not None:
            message = f"the assignee of step {token.step!r} (context value {step.assignee_key!r}) {problem}"
            if self.state.status is WorkflowStatus.PENDING:  # starting: refuse the start, nothing is stored
                raise WorkflowValidationError(message)
            self.fail(message)  # the task could never be stored; the data that named it is wrong
            return
        due_in: timedelta | None = step.due_in
        task = HumanTaskData(
            id=time_ordered_uuid(),
            instance_id=self.state.id,
            workflow_name=self.state.workflow_name,
            step_name=token.step,
            token_id=token.id,
            title=step.title,
            description=step.description,
            form_schema=step.form_schema,
            assignee=assignee,
            candidate_groups=list(step.candidate_groups),
            status=TaskStatus.OPEN,
            created_at=self.now,
            due_at=None if due_in is None else self.now + due_in,
        )
        token.task_id = task.id
        self.opened_tasks.append(task)
        self.events.append(("task.created", {"task_id": str(task.id), "step_name": token.step}))

    def _resolve_joins(self) -> None:
        if not self.graph.joins:
            return
        fired = True
        while fired:
            fired = False
            for join in dict.fromkeys(t.step for t in self.state.tokens if t.status is TokenStatus.ARRIVED):
                if not self._join_blocked(join):
                    self._fire(join)
                    fired = True
                    break
            else:
                if self._only_arrivals():
                    # Joins waiting on each other through a cycle: release the first so the instance moves.
                    self._fire(next(t.step for t in self.state.tokens))
                    fired = True

    def _join_blocked(self, join: str) -> bool:
        reach = self.graph.reach
        return any(
            join in reach[token.step]
            for token in self.state.tokens
            if not (token.status is TokenStatus.ARRIVED and token.step == join)
        )

    def _only_arrivals(self) -> bool:
        tokens = self.state.tokens
        return bool(tokens) and all(token.status is TokenStatus.ARRIVED for token in tokens)

    def _fire(self, join: str) -> None:
        arrived = [t for t in self.state.tokens if t.status is TokenStatus.ARRIVED and t.step == join]
        arrived.sort(key=lambda token: token.branch)
        for token in arrived:
            self.state.tokens.remove(token)
        delta, removed, writers = merge_branches([(t.delta, t.removed, t.writers) for t in arrived])
        merged = Token(
            f"t{self.state.next_token}",
            join,
            branch=common_prefix([t.branch for t in arrived]),
            delta=delta,
            removed=removed,
            writers=writers,
        )
        self.state.next_token += 1
        self.activate(merged)

    def settle(self) -> None:
        if self.state.status is not WorkflowStatus.FAILED:
            self._resolve_joins()
        state = self.state
        if state.status is WorkflowStatus.FAILED or state.status is WorkflowStatus.CANCELED:
            state.current_step = state.tokens[0].step if state.tokens else None
            return
        tokens = state.tokens
        if not tokens:
            delta, removed, _ = merge_branches([(b.delta, b.removed, b.writers) for b in state.ended_branches])
            merge_into(state.context.data, delta, removed)
            state.ended_branches = ()
            state.status = WorkflowStatus.COMPLETED
            state.completed_at = self.now
            state.current_step = None
            self.events.append(("workflow.completed", {}))
            return
        if len(tokens) == 1 and not state.ended_branches and (tokens[0].delta or tokens[0].removed):
            only = tokens[0]
            merge_into(state.context.data, only.delta, only.removed)
            only.delta = {}
            only.removed = ()
            only.writers = {}
        runnable = False
        for token in tokens:
            if token.status is TokenStatus.READY:
                runnable = True
                break
        previous = state.status
        state.status = WorkflowStatus.RUNNING if runnable else WorkflowStatus.WAITING
        state.current_step = tokens[0].step
        if state.status is WorkflowStatus.WAITING and previous is not WorkflowStatus.WAITING:
            # ``step_name`` (the first waiting step) is what 0.3's engine sent; ``steps`` names them all.
            waiting = [t.step for t in tokens]
            self.events.append(("workflow.waiting", {"steps": waiting, "step_name": waiting[0]}))
