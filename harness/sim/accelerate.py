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

import bisect
import functools
import sys
from collections.abc import Iterator
from pathlib import Path
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
        "by the statement Django's fast delete issues (DELETE ... WHERE pk = %s), in raw SQL, "
        "when the fast delete applies (no delete signal receivers, nothing related), else "
        "through the same queryset delete",
    ),
    (
        "the save_limit count, kept",
        "monitor.save_task counts the Success rows (of its SAVE_LIMIT_PER filter) on every save",
        "the rows (stopped, id) are read once per filter, then kept from the monitor's own "
        "writes (a Success row created or turned successful through save_task's Model.save, the "
        "prune's own delete); any other write to django_q_task (project code, queryset.update, "
        "raw SQL) or a transaction rolled back makes it read them again",
    ),
    (
        "the save_limit oldest, kept",
        "monitor.save_task asks the database for the oldest Success row (ORDER BY stopped, a "
        "sort of every row of the filter) on every save at the limit",
        "the oldest of the kept rows; when the two oldest stopped at the same instant (which one "
        "PostgreSQL returns first is its own choice) or the rows are not known, the query",
    ),
    (
        "the saves of django-q2's rows",
        "Model.save of a Schedule (each pass, per fired schedule) and of a Task (save_task) "
        "builds its UPDATE or INSERT through Django's query compiler every time",
        "the same statement (the same columns in the same order, each value prepared by its "
        "field's own get_db_prep_save) as raw SQL: only Model._do_update and _do_insert are "
        "replaced, so signals, pre_save and the instance's state are Django's own; any value "
        "the compiler would treat specially (an expression, a related object, a field with its "
        "own placeholder, a returned column) takes Django's path",
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


class Tentative:
    """Changes to a mirror made inside a transaction: they hold only once it commits.

    Each change noted inside an atomic block waits for its ``on_commit``; Django drops the
    callbacks of a block that rolls back, so a mirror whose changes never all settled knows
    it may hold a change the database does not.
    """

    def __init__(self) -> None:
        self.pending = 0

    def note(self) -> None:
        from django.db import connection, transaction

        if connection.in_atomic_block:
            self.pending += 1
            transaction.on_commit(self._committed)

    def _committed(self) -> None:
        self.pending -= 1

    def settled(self) -> bool:
        return self.pending == 0

    def reset(self) -> None:
        self.pending = 0


Key = tuple[tuple[str, Any], ...]


class SuccessCounts:
    """The prune's Success rows per filter (``SAVE_LIMIT_PER``) as (stopped, id), oldest first:
    read once, then kept from the monitor's own writes (DESCRIPTIONS[2] and [3])."""

    def __init__(self) -> None:
        self.known: dict[Key, list[tuple[Any, Any]]] = {}
        self.tentative = Tentative()
        self.deleting = False  # the prune's own delete is running
        self.counted = 0  # rows read from the database (tests read it)
        self.oldest_known = self.oldest_asked = 0  # the prune's oldest: kept, or queried

    def get(self, key: Key) -> list[tuple[Any, Any]] | None:
        if not self.tentative.settled():
            self.forget()
        return self.known.get(key)

    def forget(self) -> None:
        self.known.clear()
        self.tentative.reset()

    def oldest(self, key: Key) -> tuple[bool, Any]:
        """(known, id of the oldest row or None when there is none); not known when the two
        oldest stopped at the same instant: which one PostgreSQL returns first is its own."""
        rows = self.known.get(key)
        if rows is None or not self.tentative.settled():
            return False, None
        if not rows:
            return True, None
        if len(rows) > 1 and rows[0][0] == rows[1][0]:
            return False, None
        return True, rows[0][1]

    def added(self, row: Any) -> None:
        """A Success row appeared: in every filter it matches."""
        if row.stopped is None:
            self.forget()
            return
        for key, rows in self.known.items():
            if all(getattr(row, field, None) == value for field, value in key):
                bisect.insort(rows, (row.stopped, row.pk))
        self.tentative.note()

    def removed(self, key: Key, pk: Any) -> None:
        """The prune deleted row ``pk`` of ``key``; other filters cannot place it."""
        rows = self.known.get(key)
        for other in [k for k in self.known if k != key]:
            del self.known[other]
        index = next((i for i, (_, p) in enumerate(rows or []) if p == pk), None)
        if rows is None or index is None:
            self.forget()
            return
        del rows[index]
        self.tentative.note()


class _Row:
    """What the prune reads of a row: its primary key; deleting it deletes that row."""

    __slots__ = ("_counts", "_key", "_queryset", "pk")

    def __init__(
        self, queryset: Any, pk: Any, key: Key | None = None, counts: SuccessCounts | None = None
    ) -> None:
        self._queryset, self.pk, self._key, self._counts = queryset, pk, key, counts

    def delete(self) -> Any:
        counts = self._counts
        if counts is None or self._key is None or self._key not in counts.known:
            if counts is not None:
                counts.forget()  # a delete the counts cannot place: read again
            return self._delete()
        counts.deleting = True
        try:
            deleted = self._delete()
        finally:
            counts.deleting = False
        if deleted[0] == 1:
            counts.removed(self._key, self.pk)
        else:
            counts.forget()
        return deleted

    def _delete(self) -> Any:
        """The row deleted as Django's fast delete does it (no signal receivers, nothing
        related: ``DELETE … WHERE pk = %s``), in raw SQL; otherwise through Django."""
        from django.db import connections
        from django.db.models.deletion import Collector

        qs = self._queryset.model._base_manager.filter(pk=self.pk)
        if not Collector(using=qs.db, origin=qs).can_fast_delete(qs):
            return qs.delete()
        meta, connection = qs.model._meta, connections[qs.db]
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {qn(meta.db_table)} WHERE {qn(meta.pk.column)} = %s",
                [meta.pk.get_db_prep_value(self.pk, connection, prepared=False)],
            )
            deleted = max(cursor.rowcount, 0)
        return deleted, {meta.label: deleted}


class _Counted:
    """The prune's rows: iterating yields as many placeholders as there are rows."""

    def __init__(
        self, queryset: Any, key: Key | None = None, counts: SuccessCounts | None = None
    ) -> None:
        self._queryset, self._key, self._counts = queryset, key, counts

    def __iter__(self) -> Iterator[_Row]:
        from django.db import connections

        counts, key = self._counts, self._key
        rows = counts.get(key) if counts is not None and key is not None else None
        if rows is not None:
            count = len(rows)
        elif counts is not None and key is not None:
            read = list(self._queryset.order_by().values_list("stopped", "pk"))
            counts.counted += 1
            count = len(read)
            if all(stopped is not None for stopped, _ in read):
                counts.known[key] = sorted(read)
        else:
            sql, params = self._queryset.values("pk").query.sql_with_params()
            with connections[self._queryset.db].cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM ({sql}) AS locked", params)
                (count,) = cursor.fetchone()
        placeholder = _Row(self._queryset, None)
        return iter([placeholder] * count)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queryset, name)


def _by_stopped(queryset: Any) -> bool:
    """Whether ``.last()`` means the earliest ``stopped`` (``Success``'s own ordering)."""
    query = queryset.query
    return not query.order_by and list(query.get_meta().ordering) == ["-stopped"]


def _filters_key(frame: Any) -> Key | None:
    """The prune's ``SAVE_LIMIT_PER`` filter, read from ``save_task``'s own frame."""
    filters = frame.f_locals.get("filters")
    if not isinstance(filters, dict):
        return None
    try:
        return tuple(sorted(filters.items()))
    except TypeError:  # unorderable or unhashable values: count in the database
        return None


class SaveTaskAccelerations:
    """The accelerations of ``monitor.save_task``, and what they need to know."""

    def __init__(self, keep_counts: bool = True) -> None:
        self.saved: set[str] = set()  # task ids the simulation saved a row for
        self.preexisting = True  # until counted: rows the simulation did not make may exist
        # None: count in the database every time (a run inside a test transaction)
        self.counts: SuccessCounts | None = SuccessCounts() if keep_counts else None
        self.writes = RowWrites()

    def install(self, p: Patches) -> None:
        from django.db.models import QuerySet
        from django_q import monitor
        from django_q.models import SuccessManager, Task

        save_task_code = monitor.save_task.__code__
        self.preexisting = Task.objects.exists()
        counts = self.counts

        class PruneQuerySet(QuerySet):
            """Success rows, as the prune reads them: counted, and the oldest by id only."""

            def select_for_update(self, *args: Any, **kwargs: Any) -> Any:
                caller = sys._getframe(1)
                if caller.f_code is save_task_code:
                    # counted, not locked (DESCRIPTIONS[0]); kept once counted ([2])
                    return _Counted(self, _filters_key(caller), counts)
                return super().select_for_update(*args, **kwargs)

            def last(self) -> Any:
                caller = sys._getframe(1)
                if caller.f_code is not save_task_code:
                    return super().last()
                key = _filters_key(caller)
                if counts is not None and key is not None and _by_stopped(self):
                    known, pk = counts.oldest(key)  # oldest without asking (DESCRIPTIONS[3])
                    if known:
                        counts.oldest_known += 1
                        return None if pk is None else _Row(self, pk, key, counts)
                    counts.oldest_asked += 1
                ordered = self.reverse() if self.ordered else self.order_by("-pk")
                for pk in ordered.values_list("pk", flat=True)[:1]:
                    return _Row(self, pk, key, counts)
                return None

        base = SuccessManager.get_queryset

        def get_queryset(manager: Any) -> Any:
            plain = base(manager)  # django-q2's own filter (success=True)
            return PruneQuerySet(model=manager.model, query=plain.query, using=plain._db)

        p.set(SuccessManager, "get_queryset", get_queryset, DESCRIPTIONS[0][2])
        self._first_lookup(p, Task, save_task_code)
        if counts is not None:
            self._keep_counts(p, counts, save_task_code)

    @staticmethod
    def _keep_counts(p: Patches, counts: SuccessCounts, save_task_code: Any) -> None:
        """A Task row saved: a new Success row, or save_task turning a failed row (its update
        path only touches rows that failed) successful, adds one; any other update of a row
        cannot be placed, so the counts are asked of the database again."""
        from django.db.models.signals import post_save

        def on_saved(sender: Any, instance: Any, created: bool, **_: Any) -> None:
            if instance._meta.db_table != "django_q_task" or not counts.known:
                return
            if created or _issued_by(save_task_code):
                if instance.success:
                    counts.added(instance)
            else:
                counts.forget()

        uid = f"harness-success-counts-{id(counts)}"
        post_save.connect(on_saved, dispatch_uid=uid, weak=False)
        p.on_undo(lambda: post_save.disconnect(dispatch_uid=uid), "the prune's counts, kept")

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

        p.set(manager, "get", get, DESCRIPTIONS[5][2])


@functools.cache
def _carriers() -> tuple[str, ...]:
    """Frames that only carry a call: Django's and the standard library's."""
    import sysconfig

    import django

    return (str(Path(django.__file__).parent) + "/", sysconfig.get_paths()["stdlib"] + "/")


def _issued_by(code: Any) -> bool:
    """Whether the innermost caller outside Django and the standard library is ``code``: the
    save was ``save_task``'s own, not a hook's or a receiver's it runs."""
    carriers = _carriers()
    frame: Any = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(carriers):
        frame = frame.f_back
    return frame is not None and frame.f_code is code


def _plain(field: Any, value: Any) -> bool:
    """A value Django's compiler would bind as it is, prepared by the field (``%s``)."""
    return not (
        hasattr(value, "resolve_expression")
        or hasattr(value, "prepare_database_save")
        or hasattr(field, "get_placeholder")
    )


def _from_django_q() -> bool:
    """Whether the save was django-q2's own: its innermost caller outside Django (and outside
    ``Schedule.save``, which any caller goes through) is django-q2's code."""
    frame: Any = sys._getframe(3)
    carriers = _carriers()
    while frame is not None and (
        frame.f_code.co_filename.startswith(carriers)
        or frame.f_code.co_filename.endswith("/django_q/models.py")
    ):
        frame = frame.f_back
    return frame is not None and "/django_q/" in frame.f_code.co_filename


class RowWrites:
    """django-q2's saves of its own rows as raw SQL (DESCRIPTIONS[4]); counts them for tests."""

    def __init__(self) -> None:
        self.updates = self.inserts = 0

    def install(self, p: Patches) -> None:
        from django.db.models import Model
        from django_q.models import Schedule, Task

        do_update, do_insert = Model._do_update, Model._do_insert
        writes = self

        def _do_update(
            obj: Any,
            base_qs: Any,
            using: str,
            pk_val: Any,
            values: list[Any],
            update_fields: Any,
            forced_update: bool,
        ) -> Any:
            meta = obj._meta
            if (
                not values
                or meta.select_on_save
                or base_qs.query.where
                or not all(_plain(f, v) for f, _, v in values)
                or not _from_django_q()
            ):
                return do_update(obj, base_qs, using, pk_val, values, update_fields, forced_update)
            writes.updates += 1
            return _raw_update(meta, using, pk_val, [(f, v) for f, _, v in values])

        def _do_insert(
            obj: Any, manager: Any, using: str, fields: list[Any], returning: Any, raw: bool
        ) -> Any:
            if returning or raw or not fields or not _from_django_q():
                return do_insert(obj, manager, using, fields, returning, raw)
            values = [f.pre_save(obj, True) for f in fields]
            if not all(_plain(f, v) for f, v in zip(fields, values, strict=True)):
                return do_insert(obj, manager, using, fields, returning, raw)
            writes.inserts += 1
            _raw_insert(obj._meta, using, list(zip(fields, values, strict=True)))
            return []

        for model in (Schedule, Task):
            p.set(model, "_do_update", _do_update, DESCRIPTIONS[4][2])
            p.set(model, "_do_insert", _do_insert, DESCRIPTIONS[4][2])


def _raw_update(meta: Any, using: str, pk_val: Any, values: list[tuple[Any, Any]]) -> bool:
    """``UPDATE … SET <each column> = %s WHERE <pk> = %s``: True when a row matched."""
    from django.db import connections

    connection = connections[using]
    qn = connection.ops.quote_name
    columns = ", ".join(f"{qn(f.column)} = %s" for f, _ in values)
    params = [f.get_db_prep_save(v, connection=connection) for f, v in values]
    params.append(meta.pk.get_db_prep_value(pk_val, connection, prepared=False))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(meta.db_table)} SET {columns} WHERE {qn(meta.pk.column)} = %s", params
        )
        return cursor.rowcount > 0


def _raw_insert(meta: Any, using: str, values: list[tuple[Any, Any]]) -> None:
    """``INSERT INTO … (<columns>) VALUES (%s, …)``, nothing returned."""
    from django.db import connections

    connection = connections[using]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f, _ in values)
    marks = ", ".join(["%s"] * len(values))
    params = [f.get_db_prep_save(v, connection=connection) for f, v in values]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES ({marks})", params)


def install(p: Patches, keep_counts: bool = True) -> SaveTaskAccelerations:
    """Install every acceleration on ``p`` (undone with it); ``keep_counts`` False (a run
    inside a test transaction) counts the prune's rows in the database every time."""
    accelerations = SaveTaskAccelerations(keep_counts)
    accelerations.install(p)
    accelerations.writes.install(p)
    return accelerations
