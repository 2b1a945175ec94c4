"""Accelerations: where django-q2's code path is expensive and its result can be had cheaper.

Each one replaces *cost*, never *behaviour*: the same statements reach the database for the
same rows, in the same order, with the same effect. Each is installed through
:class:`harness.patching.Patches` (reversible, with its reason) and is off under
``Simulation(faithful=True)`` / ``harness replay --faithful``; ``tests/harness/
test_accelerations.py`` replays every shipped scenario both ways and compares the timeline
bytes and the end-of-run rows of every django-q2 table.

1. **The save_limit prune** (``monitor.save_task``). With ``save_limit > 0`` django-q2 runs, on
   every save, ``[t.pk for t in Success.objects.filter(...).select_for_update()]``: it loads
   every Success row as a model instance and unpickles its ``args``, ``kwargs`` and ``result``
   to read the primary keys and count them (1.65 million instances for 2,140 tasks of the
   month). Here that iteration reads ``SELECT id … FOR UPDATE`` — the same rows, locked the
   same way — and yields the ids; the count and the ``.last().delete()`` that follows are
   django-q2's own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from harness.patching import Patches

DESCRIPTIONS = (
    (
        "the save_limit prune",
        "django_q.monitor.save_task reads every Success row as a model instance (unpickling "
        "args, kwargs, result) to count and lock them",
        "SELECT id ... FOR UPDATE: the same rows locked, the ids counted; the row deleted is "
        "still chosen by django-q2's own .last().delete()",
    ),
)
"""(what, what django-q2 does, what the harness does instead) — docs/driver.md lists these."""


class _Pk:
    """All the prune reads of a row."""

    __slots__ = ("pk",)

    def __init__(self, pk: Any) -> None:
        self.pk = pk


class _LockedIds:
    """The prune's ``select_for_update()`` queryset: iterating it locks the same rows with
    ``SELECT id … FOR UPDATE`` and yields their ids; anything else is the queryset's."""

    def __init__(self, queryset: Any) -> None:
        self._queryset = queryset

    def __iter__(self) -> Iterator[_Pk]:
        for pk in self._queryset.values_list("pk", flat=True):
            yield _Pk(pk)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queryset, name)


def install(p: Patches) -> None:
    """Install every acceleration on ``p`` (undone with it)."""
    _accelerate_prune(p)


def _accelerate_prune(p: Patches) -> None:
    from django.db.models import QuerySet
    from django_q import monitor
    from django_q.models import SuccessManager

    save_task_code = monitor.save_task.__code__

    class PruneQuerySet(QuerySet):
        """Success rows; the prune's ``select_for_update()`` locks and reads ids only."""

        def select_for_update(self, *args: Any, **kwargs: Any) -> Any:
            locked = super().select_for_update(*args, **kwargs)
            if sys._getframe(1).f_code is save_task_code:  # only the prune's own call
                return _LockedIds(locked)
            return locked

    base = SuccessManager.get_queryset

    def get_queryset(manager: Any) -> Any:
        plain = base(manager)  # django-q2's own filter (success=True)
        return PruneQuerySet(model=manager.model, query=plain.query, using=plain._db)

    p.set(SuccessManager, "get_queryset", get_queryset, DESCRIPTIONS[0][2])
