"""Who may do what with workflows: one policy object for the REST API (and anything else that asks).

Every endpoint of the API asks the app's :class:`WorkflowPolicy` before it acts: viewing
definitions, starting a workflow, seeing an instance (detail, history, events, diagram) and the
tracebacks in its history, cancelling and retrying one. Listing asks for an
:class:`~litestar_workflows.core.access.InstanceScope` instead of a yes or no, which the
persistence evaluates in its query, so a page holds only visible instances and the total counts
only those. Seeing a single instance goes by the same scope, so a
listing and a detail page never disagree.

Who the caller is comes from the app's identity resolver (``litestar_workflows.web.identity``);
anonymous callers are turned away with a 401 before the policy is asked, unless the app sets
``WorkflowPluginConfig(allow_anonymous=True)``. Task actions follow the task rule of
``core.identity.can_act_on``, which the engine also applies when a task is completed; it is not
part of this policy.

Customise it in either of two ways (no Litestar needed, so the CLI or a UI can use it too):

- subclass and override methods (call ``super()`` to extend the default rule), or
- pass callables per action, like Litestar guards: ``WorkflowPolicy(admin_role="admin",
  cancel=lambda identity, instance: ...)``. A callable replaces the default rule of its action
  entirely, the admin exception included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from litestar_workflows.core.access import Ancestors, InstanceScope, instance_in_scope
from litestar_workflows.core.definition import WorkflowDefinition
from litestar_workflows.core.exceptions import AccessDeniedError, NotAuthenticatedError
from litestar_workflows.core.identity import Identity, is_admin
from litestar_workflows.core.models import HumanTaskData, WorkflowInstanceData

__all__ = (
    "DefinitionsRule",
    "InstanceRule",
    "ScopeRule",
    "StartRule",
    "WorkflowPolicy",
    "caller_name",
    "require",
)

DefinitionsRule = Callable[[Identity], bool]
"""May this caller list and read workflow definitions?"""
StartRule = Callable[[Identity, WorkflowDefinition], bool]
"""May this caller start this workflow (definition)?"""
InstanceRule = Callable[[Identity, WorkflowInstanceData], bool]
"""May this caller cancel (or retry) this instance, or see its tracebacks?"""
ScopeRule = Callable[[Identity], InstanceScope]
"""Which instances may this caller see?"""


class WorkflowPolicy:
    """The default policy, and the base class of custom ones.

    ============================  =============================================================
    action                        allowed to
    ============================  =============================================================
    view definitions              every caller the API admits
    start a workflow              every admitted caller when its definition has no
                                  ``start_groups``; else members of one of them, and admins
    see an instance               its starter; whoever may act on one of its tasks (open or
                                  done); admins
    cancel an instance            its starter; admins
    retry a failed instance       admins; its starter too with ``starters_may_retry=True``
    see step tracebacks           admins (others see each failed attempt's error message only)
    ============================  =============================================================

    An admitted anonymous caller (only with ``allow_anonymous``) is treated as an identified user
    without groups whose instances are the ones started with no recorded starter: anonymously
    through the API, by code that called ``start_workflow`` without ``started_by``, and those
    that existed before the ``started_by`` column did. Anonymous callers never act on tasks.

    Args:
        admin_role: The group whose members may do everything (the plugin's ``admin_role``).
        starters_may_retry: Let the starter of a failed instance retry it, not only admins.
        view_definitions, start, instance_scope, cancel, retry, view_tracebacks: Callables
            replacing the default rule of one action (see the module's description).
    """

    __slots__ = (
        "_cancel",
        "_instance_scope",
        "_retry",
        "_start",
        "_view_definitions",
        "_view_tracebacks",
        "admin_role",
        "starters_may_retry",
    )

    def __init__(
        self,
        admin_role: str | None = None,
        *,
        starters_may_retry: bool = False,
        view_definitions: DefinitionsRule | None = None,
        start: StartRule | None = None,
        instance_scope: ScopeRule | None = None,
        cancel: InstanceRule | None = None,
        retry: InstanceRule | None = None,
        view_tracebacks: InstanceRule | None = None,
    ) -> None:
        self.admin_role = admin_role
        self.starters_may_retry = starters_may_retry
        self._view_definitions = view_definitions
        self._start = start
        self._instance_scope = instance_scope
        self._cancel = cancel
        self._retry = retry
        self._view_tracebacks = view_tracebacks

    def is_admin(self, identity: Identity) -> bool:
        """True if ``identity`` holds the admin role (never for anonymous callers)."""
        return is_admin(identity, self.admin_role)

    def may_view_definitions(self, identity: Identity) -> bool:
        """May ``identity`` list workflows and read their structure and diagrams?"""
        if self._view_definitions is not None:
            return self._view_definitions(identity)
        return True

    def may_start(self, identity: Identity, definition: WorkflowDefinition) -> bool:
        """May ``identity`` start an instance of ``definition``?"""
        if self._start is not None:
            return self._start(identity, definition)
        groups = definition.start_groups
        return not groups or self.is_admin(identity) or not identity.groups.isdisjoint(groups)

    def instance_scope(self, identity: Identity) -> InstanceScope:
        """The instances ``identity`` may see (and find in listings)."""
        if self._instance_scope is not None:
            return self._instance_scope(identity)
        if self.is_admin(identity):
            return InstanceScope.all_instances()
        if identity.user_id is None:
            return InstanceScope(started_anonymously=True)
        return InstanceScope(started_by=frozenset({identity.user_id}), task_actor=identity)

    def may_view_instance(
        self,
        identity: Identity,
        instance: WorkflowInstanceData,
        tasks: Sequence[HumanTaskData],
        ancestors: Ancestors = (),
    ) -> bool:
        """May ``identity`` see ``instance`` (whose tasks, open and done, are ``tasks``)?

        Goes by :meth:`instance_scope`, so what a caller may open is what their listing shows: a
        sub-workflow instance is also visible to whoever may see one of its ``ancestors`` (its
        parent, its parent's parent..., each with its tasks).
        """
        return instance_in_scope(self.instance_scope(identity), instance, tasks, ancestors)

    def may_cancel(self, identity: Identity, instance: WorkflowInstanceData) -> bool:
        """May ``identity`` cancel ``instance``?"""
        if self._cancel is not None:
            return self._cancel(identity, instance)
        return self.is_admin(identity) or _started(identity, instance)

    def may_retry(self, identity: Identity, instance: WorkflowInstanceData) -> bool:
        """May ``identity`` retry ``instance`` (failed)?"""
        if self._retry is not None:
            return self._retry(identity, instance)
        return self.is_admin(identity) or (self.starters_may_retry and _started(identity, instance))

    def may_view_tracebacks(self, identity: Identity, instance: WorkflowInstanceData) -> bool:
        """May ``identity``, who may see ``instance``, also see the tracebacks of its failed attempts?

        A traceback shows the app's code (file paths, lines, what was called): by default only
        admins get it; everyone else who sees the instance gets each attempt's error message.
        """
        if self._view_tracebacks is not None:
            return self._view_tracebacks(identity, instance)
        return self.is_admin(identity)


def _started(identity: Identity, instance: WorkflowInstanceData) -> bool:
    """True if ``identity`` started ``instance`` (an anonymous caller: one with no recorded starter)."""
    return instance.started_by == identity.user_id


def caller_name(identity: Identity) -> str:
    """How refusals name the caller: ``user 'bob'`` or ``an anonymous caller``."""
    return "an anonymous caller" if identity.user_id is None else f"user {identity.user_id!r}"


def require(allowed: bool, identity: Identity, message: str) -> None:
    """Refuse unless ``allowed``: ``NotAuthenticatedError`` for anonymous callers, else ``AccessDeniedError``.

    An anonymous caller refused something may well be allowed it once identified (a 401 says so);
    an identified one is refused outright (a 403).
    """
    if allowed:
        return
    if identity.is_anonymous:
        raise NotAuthenticatedError(f"{message}; authenticate and try again")
    raise AccessDeniedError(message)
