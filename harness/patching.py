"""Reversible patches with reasons: the one mechanism every monkeypatch of the harness uses.

A leaf module (it imports nothing of the harness), so the simulation's patches of django-q2
(:mod:`harness.sim.patches`), the lock model, the network guard and the template build can all
use it. ``Patches.reasons()`` lists what is patched and why; ``undo()`` restores every value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MISSING = object()
_STATE = object()


class Patches:
    """A stack of reversible attribute patches with reasons."""

    def __init__(self) -> None:
        self._stack: list[tuple[Any, str, Any, str]] = []

    def set(self, target: Any, name: str, value: Any, reason: str) -> None:
        """Set ``target.name``; undo restores the target's own value, or removes the attribute
        when the target only inherited it (so inheritance is exactly as before)."""
        own = getattr(target, "__dict__", None)
        old = own.get(name, _MISSING) if own is not None else getattr(target, name, _MISSING)
        self._stack.append((target, name, old, reason))
        setattr(target, name, value)

    def on_undo(self, restore: Callable[[], None], reason: str) -> None:
        """A patch of state that is not an attribute (``random``'s generator): how to undo it."""
        self._stack.append((restore, "<state>", _STATE, reason))

    def undo(self) -> None:
        while self._stack:
            target, name, old, _reason = self._stack.pop()
            if old is _STATE:
                target()
            elif old is _MISSING:
                delattr(target, name)
            else:
                setattr(target, name, old)

    def reasons(self) -> list[str]:
        return [
            f"{getattr(t, '__name__', type(t).__name__)}.{n}: {r}" for t, n, _, r in self._stack
        ]
