"""The broker, known without asking it: an in-process mirror of django-q2's queue and schedules.

The look-ahead needs two things from the database each step: each cluster's earliest due
schedule and the instant the next ``OrmQ`` row becomes visible. The driver writes every broker
row itself (the deterministic broker's enqueue, claim and delete report to :class:`BrokerMirror`
through ``DeterministicORM.journal``) and every schedule update of a pass goes through
``Model.save`` (``post_save`` carries the row as written), so the mirror answers from memory
(accelerated runs only; ``--faithful`` keeps the SQL probe, the reference it is proven against).

Nothing else may change those tables silently. :class:`TableWatch`, an ``execute_wrapper`` on
the run's connection (and on every connection opened while the simulation runs), sees every
write to ``django_q_ormq``, ``django_q_schedule`` and ``django_q_task``: a write the mirror was
not told about (project code touching ``OrmQ``, ``queryset.update``, raw SQL, a migration, a
schedule deleted) invalidates that part, which the next look-ahead reloads in one statement.
A change made inside a transaction counts only once it commits (``on_commit``); one rolled back
leaves the mirror unconfirmed, and it is reloaded too.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from harness.brokers import BrokerKind
from harness.sim.accelerate import Tentative
from harness.sim.cluster import ClusterState

WATCHED = ("django_q_ormq", "django_q_schedule", "django_q_task")
_READS = ("SELECT", "SAVEPOINT", "RELEASE", "ROLLBACK", "SHOW", "SET", "BEGIN", "COMMIT")


def _utc(value: datetime | None) -> datetime | None:
    """As the database returns it: timestamps in UTC (naive ones as they are)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC)


class BrokerMirror:
    """What the database holds of the queue (id → key, lock) and of the schedules (id →
    next_run, repeats, cluster); ``None`` for a part that must be reloaded before use."""

    def __init__(self) -> None:
        self.rows: dict[int, tuple[str, datetime]] | None = None
        self.schedules: dict[int, tuple[datetime | None, int, str | None]] | None = None
        self.tentative = Tentative()
        self.broker_writing = 0  # > 0 while the deterministic broker runs its own statement
        self.reloads: dict[str, int] = {"rows": 0, "schedules": 0}  # how often (tests read it)
        self.invalidated: dict[str, int] = {"rows": 0, "schedules": 0}

    # -- told by the broker (DeterministicORM.journal) ----------------------------------------
    def enqueued(self, pk: int, key: str, lock: datetime) -> None:
        if self.rows is not None:
            self.rows[pk] = (key, lock)
            self.tentative.note()

    def claimed(self, pks: list[int], lock: datetime) -> None:
        if self.rows is None:
            return
        for pk in pks:
            known = self.rows.get(pk)
            if known is None:
                self.invalidate("rows")  # a row the mirror did not know: reload
                return
            self.rows[pk] = (known[0], lock)
        self.tentative.note()

    def deleted(self, pk: int) -> None:
        if self.rows is not None:
            self.rows.pop(pk, None)
            self.tentative.note()

    # -- told by Django (post_save) and by TableWatch ----------------------------------------
    def schedule_saved(self, row: Any) -> None:
        if self.schedules is None:
            return
        next_run = row.next_run
        if next_run is not None and next_run.tzinfo is None and _aware():
            self.invalidate("schedules")  # stored converted: reload what the database holds
            return
        self.schedules[row.pk] = (_utc(next_run), row.repeats, row.cluster)
        self.tentative.note()

    def invalidate(self, part: str) -> None:
        """Forget one part (``rows``, ``schedules``): the next answer reloads it."""
        if getattr(self, part) is not None:
            self.invalidated[part] += 1
        setattr(self, part, None)

    # -- asked by the look-ahead --------------------------------------------------------------
    def answer(
        self, clusters: list[ClusterState], kind: BrokerKind, cap: int | None
    ) -> tuple[dict[int, datetime | None], datetime | None] | None:
        """What :func:`~harness.sim._core.lookahead.probe` would read, from memory (reloading
        a part first when it is unknown); ``None`` inside a transaction (the probe answers)."""
        from django.db import connection

        if connection.in_atomic_block:
            return None
        if not self.tentative.settled():  # a change was rolled back with its transaction
            self.tentative.reset()
            self.invalidate("rows")
            self.invalidate("schedules")
        schedules: dict[int, datetime | None] = {}
        if any(c.up and c.spec.scheduler for c in clusters):
            if self.schedules is None:
                self._reload_schedules()
            assert self.schedules is not None
            from django_q.conf import Conf

            for i, c in enumerate(clusters):
                if c.up and c.spec.scheduler:
                    default = c.name == Conf.PREFIX
                    schedules[i] = min(
                        (
                            nr
                            for nr, repeats, owner in self.schedules.values()
                            if nr is not None
                            and repeats != 0
                            and (owner == c.name or (default and owner is None))
                        ),
                        default=None,
                    )
        keys = {c.broker.list_key for c in clusters if c.up and not c.hold}
        lock = None
        if kind.rows_in_sql and keys:
            if self.rows is None:
                self._reload_rows()
            assert self.rows is not None
            lock = min(
                (
                    at
                    for pk, (key, at) in self.rows.items()
                    if key in keys and at is not None and (cap is None or pk <= cap)
                ),
                default=None,
            )
        return schedules, lock

    def _reload_rows(self) -> None:
        from django_q.models import OrmQ

        self.reloads["rows"] += 1
        self.rows = {
            pk: (key, _utc(lock)) for pk, key, lock in OrmQ.objects.values_list("id", "key", "lock")
        }

    def _reload_schedules(self) -> None:
        from django_q.models import Schedule

        self.reloads["schedules"] += 1
        self.schedules = {
            pk: (_utc(nr), repeats, owner)
            for pk, nr, repeats, owner in Schedule.objects.order_by().values_list(
                "id", "next_run", "repeats", "cluster"
            )
        }


def _drop(wrappers: list[Any], wrapper: Any) -> None:
    """Take ``wrapper`` off a connection it was added to (if it is still there)."""
    if wrapper in wrappers:
        wrappers.remove(wrapper)


def _aware() -> bool:
    from django.conf import settings

    return bool(settings.USE_TZ)


class TableWatch:
    """Every write to django-q2's tables on the run's connections; the ones nobody reported
    (the mirror's broker, a ``Model.save`` whose ``post_save`` follows, the prune's own delete)
    invalidate what depends on them."""

    def __init__(
        self,
        mirror: BrokerMirror | None,
        forget_counts: Callable[[], None] | None,
        counts_deleting: Callable[[], bool],
    ) -> None:
        from django.db.models.base import Model

        self.mirror = mirror
        self.forget_counts = forget_counts
        self.counts_deleting = counts_deleting
        self.thread = threading.get_ident()
        self._save_table = Model._save_table.__code__
        self._undo: list[Callable[[], None]] = []

    def install(self) -> None:
        from django.db import connection
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_save

        cm = connection.execute_wrapper(self)
        cm.__enter__()
        self._undo.append(lambda: cm.__exit__(None, None, None))

        def on_connection(sender: Any, connection: Any, **_: Any) -> None:
            if self not in connection.execute_wrappers:
                connection.execute_wrappers.append(self)
                self._undo.append(lambda: _drop(connection.execute_wrappers, self))

        uid = f"harness-watch-{id(self)}"
        connection_created.connect(on_connection, dispatch_uid=uid, weak=False)
        self._undo.append(lambda: connection_created.disconnect(dispatch_uid=uid))
        post_save.connect(self._on_saved, dispatch_uid=uid, weak=False)
        self._undo.append(lambda: post_save.disconnect(dispatch_uid=uid))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _on_saved(self, sender: Any, instance: Any, **_: Any) -> None:
        if self.mirror is not None and instance._meta.db_table == "django_q_schedule":
            if threading.get_ident() == self.thread:
                self.mirror.schedule_saved(instance)
            else:
                self.mirror.invalidate("schedules")

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if "django_q_" in sql and not sql.lstrip()[:9].upper().startswith(_READS):
            self._wrote(sql)
        return result

    def _wrote(self, sql: str) -> None:
        """A statement that wrote to a django-q2 table: invalidate what nobody reported."""
        ours = threading.get_ident() == self.thread
        mirror = self.mirror
        head = sql.lstrip()[:6].upper()
        if mirror is not None and "django_q_ormq" in sql and not (ours and mirror.broker_writing):
            mirror.invalidate("rows")
        saved = head in ("UPDATE", "INSERT") and ours and self._saving()
        if mirror is not None and "django_q_schedule" in sql and not saved:
            mirror.invalidate("schedules")
        pruned = ours and head == "DELETE" and self.counts_deleting()
        if self.forget_counts is not None and "django_q_task" in sql and not (saved or pruned):
            self.forget_counts()

    def _saving(self) -> bool:
        """Whether the statement comes from ``Model.save`` (its ``post_save`` follows)."""
        frame: Any = sys._getframe(2)
        for _ in range(24):
            if frame is None:
                return False
            if frame.f_code is self._save_table:
                return True
            frame = frame.f_back
        return False
