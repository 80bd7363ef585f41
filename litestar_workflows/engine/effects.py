"""What step kinds carry out with a commit: effect handlers and instance-end hooks, keyed and registered by kinds.

The kernel knows no step kind by name. Entering a step may hand the runtime an *effect*
(``Entry.effect``, collected in ``Transition.effects``); the kind's own module registers, for the
effect's type, a handler the runtime calls before the commit (:func:`register_effect`). A module
may also register a hook that runs before the commit of every transition that ends its instance
(:func:`register_ending`). Handlers and hooks may change the transition (fail it, say) and link
changes of other instances to it (``Transition.linked``: a ``Linked(apply_command(...), previous)``):
those are written in the same commit, all or nothing, and published after it like the transition
itself. ``InstanceRuntime._commit`` is the one place that calls them (:func:`carry_out`).

A commit refused by a concurrent update is tried again on a fresh transition, and its handlers
and hooks run again: what they do belongs in the transition (or its linked changes), never beside it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from litestar_workflows.engine.draft import Transition
    from litestar_workflows.engine.runtime import InstanceRuntime

__all__ = (
    "EffectHandler",
    "EndingHook",
    "carry_out",
    "ends_instance",
    "register_effect",
    "register_ending",
    "run_effects",
    "unregister",
)

EffectHandler = Callable[["InstanceRuntime", "Transition", str, Any], Awaitable[None]]
"""``handler(runtime, transition, token_id, effect)``: carry out ``effect`` of the step ``token_id`` entered."""

EndingHook = Callable[["InstanceRuntime", "Transition", UUID | None], Awaitable[None]]
"""``hook(runtime, transition, source)``: ``transition`` ends its instance (completed, failed, cancelled).

``source``: the instance whose change carries this transition, already part of the commit (a
linked change), or None when ``transition`` is the commit's own."""

_ENDINGS = frozenset({"workflow.completed", "workflow.failed", "workflow.canceled"})

_effect_handlers: dict[type[Any], EffectHandler] = {}
_ending_hooks: list[EndingHook] = []


def register_effect(effect_type: type[Any], handler: EffectHandler) -> None:
    """Have ``handler`` carry out every effect of type ``effect_type`` (one handler per type)."""
    known = _effect_handlers.get(effect_type)
    if known is not None and known is not handler:
        msg = f"effects of type {effect_type.__qualname__} have a handler already: {known!r}"
        raise ValueError(msg)
    _effect_handlers[effect_type] = handler


def register_ending(hook: EndingHook) -> None:
    """Run ``hook`` with every commit that ends an instance (in registration order; once per hook)."""
    if hook not in _ending_hooks:
        _ending_hooks.append(hook)


def unregister(handler: EffectHandler | EndingHook) -> None:
    """Forget ``handler`` wherever it was registered (a test's kind, say)."""
    for effect_type, known in list(_effect_handlers.items()):
        if known is handler:
            del _effect_handlers[effect_type]
    if handler in _ending_hooks:
        _ending_hooks.remove(handler)


def ends_instance(transition: Transition) -> bool:
    """True if ``transition`` ends its instance (not merely changes an instance that has ended already)."""
    return transition.state.status.is_finished and any(event in _ENDINGS for event, _ in transition.events)


async def run_effects(runtime: InstanceRuntime, transition: Transition) -> None:
    """Carry out the effects of the steps ``transition`` entered, in order; ``LookupError`` for an unhandled one."""
    for token_id, effect in transition.effects:
        handler = _effect_handlers.get(type(effect))
        if handler is None:
            # Dropping it would commit a step whose effect never happens: refuse the commit instead.
            msg = f"no handler is registered for the effect {effect!r} (engine.effects.register_effect)"
            raise LookupError(msg)
        await handler(runtime, transition, token_id, effect)


async def carry_out(runtime: InstanceRuntime, transition: Transition, source: UUID | None = None) -> None:
    """Everything kinds do with ``transition``'s commit: its effects, then the ending hooks if it ends its instance.

    A handler or hook that builds a change of another instance calls this for it too (its effects
    and endings join the same commit), passing the instance it comes from as ``source``.
    """
    if transition.effects:
        await run_effects(runtime, transition)
    if _ending_hooks and ends_instance(transition):
        for hook in tuple(_ending_hooks):
            await hook(runtime, transition, source)
