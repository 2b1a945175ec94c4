"""Accelerations: where django-q2's code path is expensive and its result can be had cheaper.

Each one replaces *cost*, never *behaviour*: the same rows are read, written and deleted, with
the same effect; row locks are skipped only where nothing could ever contend for them (a
simulation is one thread on one connection). Each is installed through
:class:`harness.patching.Patches` (reversible, with its reason), applies only to the call site
it names (checked by the caller's code object), and is off under ``Simulation(faithful=True)`` /
``harness replay --faithful``; ``tests/scenarios/test_shipped.py`` replays every shipped
scenario both ways (``test_accelerations.py`` a prune at its limit) and compares the timeline
bytes and the end-of-run rows of every django-q2 table.
:data:`DESCRIPTIONS` is the list docs/driver.md shows.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from harness.patching import Patches

DESCRIPTIONS = (
    (
        "the save_limit count",
        "monitor.save_task lists every Success row as a model instance (unpickling args, "
        "kwargs, result) under select_for_update, only to count them",
        "SELECT count(*) FROM (SELECT id ...): the same rows counted in the database, without "
        "FOR UPDATE: a simulation is one thread on one connection, and while save_task runs "
        "nothing else can ask for those rows, so their locks could never be contended",
    ),
    (
        "the save_limit delete",
        "monitor.save_task loads the oldest Success row whole (.last()) to delete it",
        "the same query (same filter, same ORDER BY) reads its id only; the row is deleted "
        "through the same queryset delete",
    ),
    (
        "the first save's lookup",
        "monitor.save_task looks the task up (Task.objects.get) before creating its row, also "
        "on its first save, when no row can exist",
        "a task id the simulation has never saved (and that had no row when it opened) is "
        "known not to exist: Task.DoesNotExist without the query",
    ),
)
"""(what, what django-q2 does, what the harness does instead)."""


class _Row:
    """What the prune reads of a row: its primary key; deleting it deletes that row."""

    __slots__ = ("_queryset", "pk")

    def __init__(self, queryset: Any, pk: Any) -> None:
        self._queryset, self.pk = queryset, pk

    def delete(self) -> Any:
        return self._queryset.model._base_manager.filter(pk=self.pk).delete()


class _Counted:
    """The prune's rows: iterating yields as many placeholders as there are rows."""

    def __init__(self, queryset: Any) -> None:
        self._queryset = queryset

    def __iter__(self) -> Iterator[_Row]:
        from django.db import connections

        sql, params = self._queryset.values("pk").query.sql_with_params()
        with connections[self._queryset.db].cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM ({sql}) AS locked", params)
            (count,) = cursor.fetchone()
        placeholder = _Row(self._queryset, None)
        return iter([placeholder] * count)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queryset, name)


class SaveTaskAccelerations:
    """The three accelerations of ``monitor.save_task``, and what they need to know."""

    def __init__(self) -> None:
        self.saved: set[str] = set()  # task ids the simulation saved a row for
        self.preexisting = True  # until counted: rows the simulation did not make may exist

    def install(self, p: Patches) -> None:
        from django.db.models import QuerySet
        from django_q import monitor
        from django_q.models import SuccessManager, Task

        save_task_code = monitor.save_task.__code__
        self.preexisting = Task.objects.exists()

        class PruneQuerySet(QuerySet):
            """Success rows, as the prune reads them: counted, and the oldest by id only."""

            def select_for_update(self, *args: Any, **kwargs: Any) -> Any:
                if sys._getframe(1).f_code is save_task_code:
                    return _Counted(self)  # counted, not locked (DESCRIPTIONS[0])
                return super().select_for_update(*args, **kwargs)

            def last(self) -> Any:
                if sys._getframe(1).f_code is not save_task_code:
                    return super().last()
                ordered = self.reverse() if self.ordered else self.order_by("-pk")
                for pk in ordered.values_list("pk", flat=True)[:1]:
                    return _Row(self, pk)
                return None

        base = SuccessManager.get_queryset

        def get_queryset(manager: Any) -> Any:
            plain = base(manager)  # django-q2's own filter (success=True)
            return PruneQuerySet(model=manager.model, query=plain.query, using=plain._db)

        p.set(SuccessManager, "get_queryset", get_queryset, DESCRIPTIONS[0][2])
        self._first_lookup(p, Task, save_task_code)

    def _first_lookup(self, p: Patches, task_model: type, save_task_code: Any) -> None:
        manager = task_model._default_manager
        original_get = manager.get
        accel = self

        def get(*args: Any, **kwargs: Any) -> Any:
            tid = kwargs.get("id")
            if (
                not accel.preexisting
                and tid is not None
                and tid not in accel.saved
                and sys._getframe(1).f_code is save_task_code
            ):
                accel.saved.add(tid)  # create() follows: from now on the row exists
                raise task_model.DoesNotExist("Task matching query does not exist.")
            if sys._getframe(1).f_code is save_task_code and tid is not None:
                accel.saved.add(tid)
            return original_get(*args, **kwargs)

        p.set(manager, "get", get, DESCRIPTIONS[2][2])


def install(p: Patches) -> SaveTaskAccelerations:
    """Install every acceleration on ``p`` (undone with it)."""
    accelerations = SaveTaskAccelerations()
    accelerations.install(p)
    return accelerations
