"""How an instance's state changes when something happens to it.

Pure state manipulation, no I/O: the engine builds one :class:`Transition` per event (a step
finished or failed, a task was completed, a signal arrived, a cancel was requested), and hands
its result to ``WorkflowPersistence.commit`` as one atomic change.

Execution is modelled with tokens. A step that finishes moves its token along every outgoing
edge whose condition holds (several edges: a fork, one token per branch). A step with several
incoming sources is a join: arriving tokens wait (ARRIVED) until no other live token can still
reach the join, then merge into one token that runs the join step once. While several tokens
are alive, each keeps what its steps wrote in its own ``delta``; deltas are merged into the
instance data in branch order (first declared branch first, later branches win on conflicts),
so the outcome never depends on which branch happened to finish first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from litestar_workflows.core.context import StepExecution, WorkflowContext
from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import WorkflowValidationError
from litestar_workflows.core.ids import random_uuid
from litestar_workflows.core.models import BranchData, HumanTaskData, Token, WorkflowInstanceData
from litestar_workflows.core.task_checks import TaskActor
from litestar_workflows.core.types import StepStatus, StepType, TaskStatus, TokenStatus, WorkflowStatus
from litestar_workflows.core.values import MAX_NAME_LENGTH, NESTED_TYPES, same_value, text_problem
from litestar_workflows.engine.persistence import InstanceChange, TaskClosure

__all__ = (
    "Changes",
    "Linked",
    "Transition",
    "merge_branches",
    "new_instance",
    "place_first_token",
    "step_context",
    "succeed_simply",
    "view_of",
    "with_changes",
)


@dataclass(slots=True)
class Changes:
    """What a step did to the data it saw: keys set and keys removed."""

    set: dict[str, Any] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)

    @classmethod
    def between(cls, before: dict[str, Any], after: dict[str, Any]) -> Changes:
        """Keys whose value changed (or appeared), and keys that disappeared.

        Scalars are compared by identity (a step that sets a key again set it); dicts and lists by
        content, as steps get copies of them.
        """
        if not before:
            return cls(dict(after), [])
        # Plain loops, not comprehensions: this runs after every step, and on Python 3.11 a
        # comprehension is a function call of its own.
        changed: dict[str, Any] = {}
        earlier = before.get
        for key, value in after.items():
            old = earlier(key, _ABSENT)
            # A dict or list is compared by content: the step worked on a copy of it.
            if old is not value and (type(value) not in NESTED_TYPES or not same_value(old, value)):
                changed[key] = value
        if before.keys() <= after.keys():  # the usual case, checked without a Python-level loop
            return cls(changed, [])
        return cls(changed, [key for key in before if key not in after])


_ABSENT: Any = object()


def view_of(instance: WorkflowInstanceData, token: Token) -> dict[str, Any]:
    """The data a step on ``token`` sees: the instance data plus the token's branch-local writes."""
    data = dict(instance.context.data)
    if token.delta:
        data.update(token.delta)
    for key in token.removed:
        data.pop(key, None)
    return data


def step_context(instance: WorkflowInstanceData, token: Token, data: dict[str, Any]) -> WorkflowContext:
    """A fresh context for running (or evaluating conditions at) ``token``."""
    return instance.context.evolve(data=data, current_step=token.step, attempt=token.attempt, token_id=token.id)


def _merge_into(data: dict[str, Any], delta: dict[str, Any], removed: Sequence[str]) -> None:
    data.update(delta)
    for key in removed:
        data.pop(key, None)


def with_changes(data: dict[str, Any], changes: Changes) -> dict[str, Any]:
    """A new dict: ``data`` with ``changes`` applied (``data`` itself is left alone)."""
    merged = dict(data)
    _merge_into(merged, changes.set, changes.removed)
    return merged


def place_first_token(state: WorkflowInstanceData, initial: str) -> Token:
    """The usual start, directly: a READY token on ``initial`` and the instance RUNNING.

    For a definition whose graph ``starts_plainly``; what ``Transition``'s general entering and
    settling would do for it.
    """
    token = Token(f"t{state.next_token}", initial)
    state.tokens.append(token)
    state.next_token += 1
    state.status = WorkflowStatus.RUNNING
    state.current_step = initial
    return token


def _record_writes(token: Token, changes: Changes) -> None:
    """Keep ``changes`` in the token's branch-local delta, noting its branch as their writer."""
    branch = token.branch
    writers = token.writers
    token.delta.update(changes.set)
    for key in changes.set:
        writers[key] = branch
    for key in changes.removed:
        writers[key] = branch
        token.delta.pop(key, None)
    if token.removed or changes.removed:
        # ``removed`` is a tuple, shared by copies of the token: replaced, never changed in place.
        removed = [key for key in token.removed if key not in changes.set]
        for key in changes.removed:
            if key not in removed:
                removed.append(key)
        token.removed = tuple(removed)


Branch = tuple[int, ...]
_Part = tuple[dict[str, Any], tuple[str, ...], dict[str, Branch]]


def _supersedes(later: Branch, earlier: Branch) -> bool:
    """True if ``later`` descends from ``earlier``, so its write happened after ``earlier``'s."""
    return len(later) > len(earlier) and later[: len(earlier)] == earlier


def merge_branches(parts: list[_Part]) -> _Part:
    """Merge the (delta, removed, writers) of several branches, independent of their order.

    Per key: writes superseded by a descendant branch's write drop out; of the remaining
    (concurrent) writes, the later-declared branch (greatest branch path) wins.
    """
    options: dict[str, list[tuple[Branch, bool, Any]]] = {}
    for delta, removed, writers in parts:
        for key, value in delta.items():
            options.setdefault(key, []).append((writers.get(key, ()), False, value))
        for key in removed:
            options.setdefault(key, []).append((writers.get(key, ()), True, None))
    merged: dict[str, Any] = {}
    gone: list[str] = []
    merged_writers: dict[str, Branch] = {}
    for key, candidates in options.items():
        paths = [writer for writer, _, _ in candidates]
        latest = [c for c in candidates if not any(_supersedes(path, c[0]) for path in paths)]
        writer, is_removed, value = max(latest, key=lambda candidate: candidate[0])
        merged_writers[key] = writer
        if is_removed:
            gone.append(key)
        else:
            merged[key] = value
    return merged, tuple(gone), merged_writers


def _common_prefix(branches: list[tuple[int, ...]]) -> tuple[int, ...]:
    prefix = branches[0]
    for branch in branches[1:]:
        length = 0
        for left, right in zip(prefix, branch, strict=False):
            if left != right:
                break
            length += 1
        prefix = prefix[:length]
    return prefix


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
        "closed_tasks",
        "definition",
        "events",
        "executions",
        "graph",
        "linked",
        "now",
        "opened_tasks",
        "state",
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
        self.executions: list[StepExecution] = []
        self.opened_tasks: list[HumanTaskData] = []
        self.closed_tasks: list[TaskClosure] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.linked: list[Linked] = []
        """Changes of other instances to commit with this one: a sub-workflow's child, parent or children."""

    def to_change(self, expected_revision: int) -> InstanceChange:
        """The atomic change to commit."""
        return InstanceChange(
            instance=self.state,
            expected_revision=expected_revision,
            executions=self.executions,
            opened_tasks=self.opened_tasks,
            closed_tasks=self.closed_tasks,
        )

    # --- tokens -------------------------------------------------------------------------------

    def token(self, token_id: str) -> Token | None:
        """The live token with this id, or None."""
        for token in self.state.tokens:
            if token.id == token_id:
                return token
        return None

    def _take(self, token: Token) -> None:
        self.state.tokens.remove(token)

    def _new_token(self, step: str, parent: Token, branch: tuple[int, ...]) -> Token:
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

    def start(self) -> None:
        """Place the first token on the initial step."""
        initial = self.definition.initial_step
        state = self.state
        if (
            state.status is WorkflowStatus.PENDING
            and not state.tokens
            and not state.ended_branches
            and self.graph.starts_plainly
        ):
            place_first_token(state, initial)
            self.events.insert(0, ("workflow.started", {"workflow_name": state.workflow_name}))
            return
        root = Token("", self.definition.initial_step)
        self._enter(self._new_token(self.definition.initial_step, root, ()))
        self._settle()
        self.events.insert(0, ("workflow.started", {"workflow_name": self.state.workflow_name}))

    # --- events -------------------------------------------------------------------------------

    def step_succeeded(
        self, token: Token, changes: Changes, execution: StepExecution, chosen: list[str] | None
    ) -> None:
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
                _merge_into(state.context.data, changes.set, changes.removed)
            token.writers = {}
        else:
            _record_writes(token, changes)
            if not state.tokens and not state.ended_branches and (token.delta or token.removed):
                # The only live token: its writes become instance data now, so branches forked from
                # it do not each carry a copy that a later branch would re-apply over an earlier one's.
                _merge_into(state.context.data, token.delta, token.removed)
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
            self._enter(self._new_token(target, token, (*token.branch, index) if forked else token.branch))
        self._settle()

    def step_failed(self, token: Token, execution: StepExecution, retry_in: float | None) -> None:
        """An attempt failed: schedule the next one after ``retry_in`` seconds, or fail the instance."""
        self.executions.append(execution)
        self.events.append(
            ("step.failed", {"step_name": token.step, "attempt": execution.attempt, "error": execution.error})
        )
        token.attempt += 1
        if retry_in is None:
            self.fail(f"step {token.step!r} failed after {execution.attempt} attempt(s): {execution.error}")
            return
        token.not_before = self.now + timedelta(seconds=retry_in) if retry_in > 0 else None
        self._settle()

    def task_completed(
        self,
        token: Token,
        task: HumanTaskData,
        user_id: str,
        accepted: dict[str, Any],
        actor: TaskActor | None = None,
    ) -> TaskClosure:
        """A person completed ``task``: record who and what, then continue like a finished step.

        ``actor``: the user to check against the task as stored when committing (None: not
        checked). Returns the task's closure.
        """
        closure = TaskClosure(task.id, TaskStatus.COMPLETED, user_id, self.now, accepted, actor)
        self.closed_tasks.append(closure)
        self.events.append(
            ("task.completed", {"task_id": str(task.id), "step_name": task.step_name, "user_id": user_id})
        )
        execution = StepExecution(
            step_name=token.step,
            status=StepStatus.SUCCEEDED,
            result=accepted,
            started_at=task.created_at,
            completed_at=self.now,
            output_data=accepted,
            attempt=token.attempt,
            completed_by=user_id,
        )
        token.task_id = None
        self.state.context.user_id = user_id
        self.step_succeeded(token, Changes(set=dict(accepted)), execution, None)
        return closure

    def fail(self, error: str) -> None:
        """Mark the instance FAILED; open tasks are cancelled (a retry opens them again)."""
        self.state.status = WorkflowStatus.FAILED
        self.state.error = error
        self.state.completed_at = self.now
        self._close_open_tasks()
        self.events.append(("workflow.failed", {"error": error}))

    def cancel(self, reason: str, running: list[str]) -> None:
        """Cancel the instance; ``running`` are tokens whose step was executing when cancelled."""
        for token in self.state.tokens:
            if token.id in running:
                self.executions.append(
                    StepExecution(
                        token.step,
                        StepStatus.CANCELED,
                        error=f"canceled: {reason}",
                        started_at=self.now,
                        completed_at=self.now,
                        attempt=token.attempt,
                    )
                )
        self.state.status = WorkflowStatus.CANCELED
        self.state.cancel_reason = reason
        self.state.error = f"Canceled: {reason}"
        self.state.completed_at = self.now
        self._close_open_tasks()
        self.events.append(("workflow.canceled", {"reason": reason}))

    def retry(self) -> None:
        """Resume a FAILED instance: runnable tokens run again, waiting tokens reopen their tasks."""
        self.state.status = WorkflowStatus.RUNNING
        self.state.error = None
        self.state.completed_at = None
        waiting = [token for token in self.state.tokens if token.status is TokenStatus.WAITING]
        for token in self.state.tokens:
            if token.status is TokenStatus.READY:
                token.not_before = None
                token.retry_base = token.attempt  # a manual retry grants the step its retries again
        for token in waiting:
            self.state.tokens.remove(token)
            self._activate(token)
        self.events.append(("workflow.retried", {}))
        self._settle()

    def schedule(self, step: str, not_before: datetime | None) -> None:
        """Add a runnable token on ``step`` (an operator's manual intervention)."""
        root = Token("", step)
        token = self._new_token(step, root, ())
        self._activate(token)
        if not_before is not None and token.status is TokenStatus.READY:
            token.not_before = not_before
        self.events.append(("step.scheduled", {"step_name": step}))
        self._settle()

    def _close_open_tasks(self) -> None:
        for token in self.state.tokens:
            if token.task_id is not None:
                self.closed_tasks.append(TaskClosure(token.task_id, TaskStatus.CANCELED, completed_at=self.now))
                token.task_id = None

    # --- placing tokens -----------------------------------------------------------------------

    def _enter(self, token: Token) -> None:
        if self.graph.is_join(token.step):
            token.status = TokenStatus.ARRIVED
            self.state.tokens.append(token)
        else:
            self._activate(token)

    def _activate(self, token: Token) -> None:
        step = self.definition.steps[token.step]
        self.state.tokens.append(token)
        token.status = TokenStatus.READY
        token.not_before = None
        if step.step_type is StepType.HUMAN:
            token.status = TokenStatus.WAITING
            self._open_task(token, step)
        elif step.step_type is StepType.WEBHOOK:
            token.status = TokenStatus.WAITING
        elif step.step_type is StepType.TIMER:
            context = step_context(self.state, token, view_of(self.state, token))
            try:
                wait: timedelta = step.get_duration(context)  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - a user callable; its failure fails the instance
                self.fail(f"timer {token.step!r} could not compute its duration: {exc!r}")
                return
            token.not_before = self.now + wait

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
            id=random_uuid(),
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

    # --- joins and the instance status --------------------------------------------------------

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
            branch=_common_prefix([t.branch for t in arrived]),
            delta=delta,
            removed=removed,
            writers=writers,
        )
        self.state.next_token += 1
        self._activate(merged)

    def _settle(self) -> None:
        if self.state.status is not WorkflowStatus.FAILED:
            self._resolve_joins()
        state = self.state
        if state.status is WorkflowStatus.FAILED or state.status is WorkflowStatus.CANCELED:
            state.current_step = state.tokens[0].step if state.tokens else None
            return
        tokens = state.tokens
        if not tokens:
            delta, removed, _ = merge_branches([(b.delta, b.removed, b.writers) for b in state.ended_branches])
            _merge_into(state.context.data, delta, removed)
            state.ended_branches = ()
            state.status = WorkflowStatus.COMPLETED
            state.completed_at = self.now
            state.current_step = None
            self.events.append(("workflow.completed", {}))
            return
        if len(tokens) == 1 and not state.ended_branches and (tokens[0].delta or tokens[0].removed):
            only = tokens[0]
            _merge_into(state.context.data, only.delta, only.removed)
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


def new_instance(
    definition: WorkflowDefinition, data: dict[str, Any], now: datetime, instance_id: UUID | None = None
) -> WorkflowInstanceData:
    """A PENDING instance of ``definition`` holding ``data``, with no tokens yet."""
    identifier = instance_id or random_uuid()
    name, version, initial = definition.name, definition.version, definition.initial_step
    metadata = {"workflow_name": name, "workflow_version": version}
    context = WorkflowContext(identifier, identifier, dict(data), metadata, initial, [], now)
    return WorkflowInstanceData(
        identifier, name, version, WorkflowStatus.PENDING, context, initial, None, now, None, [], (), -1
    )


def succeed_simply(
    definition: WorkflowDefinition,
    committed: WorkflowInstanceData,
    token_id: str,
    changes: Changes,
    execution: StepExecution,
    now: datetime,
) -> Transition | None:
    """The common case of a finished step, built directly; None when the case is not that simple.

    Exactly what ``Transition(definition, committed, now)`` followed by ``step_succeeded`` (edges
    evaluated, no gateway choice) produces, when: the instance is running with one token, the
    READY ``token_id``, which carries no branch-local writes and no ended branches; its step is
    terminal or has exactly one unconditional outgoing edge; and the next step is neither a join
    nor a step that pauses (human, webhook, timer). Everything else returns None, and the caller
    takes the general path. Nothing is copied that the general path would copy only to drop it.
    """
    tokens = committed.tokens
    if committed.status is not WorkflowStatus.RUNNING or len(tokens) != 1 or committed.ended_branches:
        return None
    token = tokens[0]
    if token.id != token_id or token.status is not TokenStatus.READY or token.delta or token.removed:
        return None
    step = token.step
    graph = definition.graph
    simple = graph.simple_successor
    if step not in simple:
        return None
    target = simple[step]
    source = committed.context
    data = with_changes(source.data, changes)
    context = WorkflowContext(
        source.workflow_id,
        source.instance_id,
        data,
        source.metadata,
        source.current_step,
        source.step_history,
        source.started_at,
        source.user_id,
        source.tenant_id,
        source.attempt,
        source.session,
        source.token_id,
    )
    succeeded = ("step.succeeded", {"step_name": step, "attempt": execution.attempt, "status": execution.status})
    if target is None:
        state = WorkflowInstanceData(
            committed.id,
            committed.workflow_name,
            committed.workflow_version,
            WorkflowStatus.COMPLETED,
            context,
            None,
            committed.error,
            committed.started_at,
            now,
            [],
            (),
            committed.revision + 1,
            committed.next_token,
            committed.cancel_reason,
            committed.started_by,
            committed.parent_id,
            committed.parent_token,
        )
        events: list[tuple[str, dict[str, Any]]] = [succeeded, ("workflow.completed", {})]
    else:
        following = Token(f"t{committed.next_token}", target, TokenStatus.READY, token.branch)
        state = WorkflowInstanceData(
            committed.id,
            committed.workflow_name,
            committed.workflow_version,
            WorkflowStatus.RUNNING,
            context,
            target,
            committed.error,
            committed.started_at,
            committed.completed_at,
            [following],
            (),
            committed.revision + 1,
            committed.next_token + 1,
            committed.cancel_reason,
            committed.started_by,
            committed.parent_id,
            committed.parent_token,
        )
        events = [succeeded]
    transition = Transition.__new__(Transition)
    transition.definition = definition
    transition.graph = graph
    transition.now = now
    transition.state = state
    transition.executions = [execution]
    transition.opened_tasks = []
    transition.closed_tasks = []
    transition.events = events
    transition.linked = []
    return transition
