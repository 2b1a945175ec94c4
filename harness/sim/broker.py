"""Deterministic brokers, plugged in through django-q2's supported ``broker_class`` setting.

``DeterministicORM`` keeps the ORM broker's semantics exactly — ``lock`` is "invisible until",
``enqueue`` writes ``lock=now``, ``dequeue`` takes rows with ``lock < now`` (strict) and claims
each with the same compare-and-set ``UPDATE … WHERE lock=<old>``, an un-acked task reappears
``retry`` seconds after it was dequeued — and changes only what makes a run irreproducible:

* ``ORDER BY id`` (FIFO; django-q2 has no ORDER BY, so PostgreSQL may return any order);
* no ``sleep(Conf.POLL)`` on an empty queue (a real 0.2 s wait per poll);
* no ``close_old_connections()`` per call (it would close a pytest-django test transaction);
* per-instance ``bulk`` and ``retry``, so several simulated clusters can differ;
* an observer per instance, so the driver's timeline sees acknowledgements on its brokers;
* a journal for the class (``journal``, set while an accelerated simulation runs): every row it
  inserts, claims and deletes is reported to the driver's mirror of the queue
  (``harness.sim._core.mirror``), so the look-ahead need not ask the database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ

Observer = Callable[[str, Any, Any], None]


class DeterministicORM(ORM):
    """The ORM broker with a stable claim order and no real-time sleeps."""

    journal: Any = None  # the driver's mirror of the queue, on every instance (None: none)

    def __init__(
        self, list_key: str | None = None, *, bulk: int | None = None, retry: int | None = None
    ) -> None:
        super().__init__(list_key=list_key)
        self.bulk = bulk
        self.retry = retry
        self.observer: Observer | None = None  # the driver's, on the brokers it owns
        self.max_id: int | None = None  # claim only rows up to this id (a drain's cap)

    @contextlib.contextmanager
    def capped(self, cap: int | None) -> Iterator[None]:
        """Claim only rows up to id ``cap`` within the block (``drain(with_recursion=False)``)."""
        previous, self.max_id = self.max_id, cap
        try:
            yield
        finally:
            self.max_id = previous

    @staticmethod
    def get_connection(list_key: str | None = None):  # type: ignore[override]
        return OrmQ.objects.using(Conf.ORM)

    def timeout(self, task: Any) -> Any:
        retry = self.retry if self.retry is not None else Conf.RETRY
        return timezone.now() + timedelta(seconds=retry)

    # The three hot statements are raw SQL: one round trip each and no ORM query compilation
    # (which cost more than the query itself). Their semantics are the ORM broker's, row for row.
    def _execute(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        from django.db import connections

        table = connections[Conf.ORM].ops.quote_name(OrmQ._meta.db_table)
        journal = self.journal
        if journal is not None:
            journal.broker_writing += 1  # the mirror's TableWatch: this write is reported
        try:
            with connections[Conf.ORM].cursor() as cur:
                cur.execute(sql.format(table=table), params)
                return cur.fetchall() if cur.description else []
        finally:
            if journal is not None:
                journal.broker_writing -= 1

    def enqueue(self, task: Any) -> int:
        key, now = self.list_key or Conf.CLUSTER_NAME, timezone.now()
        rows = self._execute(
            "INSERT INTO {table} (key, payload, lock) VALUES (%s, %s, %s) RETURNING id",
            [key, task, now],
        )
        if self.journal is not None:
            self.journal.enqueued(rows[0][0], key, now)
        return rows[0][0]

    def dequeue(self) -> list[tuple[int, str]] | None:
        """Claim up to ``bulk`` visible rows, oldest first, in one statement.

        Equivalent to the ORM broker's select-then-compare-and-set: the outer
        ``lock < now`` is re-checked by PostgreSQL on the row version it updates, so a row
        another cluster claimed in between is skipped, exactly as the CAS skips it.
        """
        bulk = self.bulk if self.bulk is not None else Conf.BULK
        now = timezone.now()
        cap = " AND id <= %s" if self.max_id is not None else ""
        lock = self.timeout(None)
        params: list[Any] = [lock, self.list_key, now]
        if cap:
            params.append(self.max_id)
        params.extend([bulk, now])
        rows = self._execute(
            "UPDATE {table} SET lock = %s WHERE id IN (SELECT id FROM {table} "
            f"WHERE key = %s AND lock < %s{cap} ORDER BY id LIMIT %s) AND lock < %s "
            "RETURNING id, payload",
            params,
        )
        if self.journal is not None and rows:
            self.journal.claimed([r[0] for r in rows], lock)
        return sorted(rows) or None

    def delete(self, task_id: Any) -> None:
        self._execute("DELETE FROM {table} WHERE id = %s", [task_id])
        if self.journal is not None:
            self.journal.deleted(task_id)

    def acknowledge(self, task_id: Any) -> Any:
        if self.observer is not None:
            self.observer("ack", self, task_id)
        return self.delete(task_id)

    def fail(self, task_id: Any) -> None:
        if self.observer is not None:
            self.observer("fail", self, task_id)
        self.delete(task_id)


def _redis_class() -> type:
    from django_q.brokers.redis_broker import Redis

    class DeterministicRedis(Redis):
        """The Redis broker without the 1 s ``BLPOP`` wait: a non-blocking ``LPOP``.

        Redis keeps django-q2's semantics: no ack id, so no redelivery, no ``max_attempts``, and
        ``bulk`` is ignored (at-most-once delivery). That difference is what a differential run
        against the ORM broker shows.
        """

        def __init__(
            self, list_key: str | None = None, *, bulk: int | None = None, retry: int | None = None
        ) -> None:
            super().__init__(list_key=list_key)
            self.bulk, self.retry = bulk, retry
            self.observer: Observer | None = None

        @contextlib.contextmanager
        def capped(self, cap: int | None) -> Iterator[None]:
            yield  # Redis has no row ids: a drain cap does not apply

        def dequeue(self) -> list[tuple[None, bytes]] | None:
            payload = self.connection.lpop(self.list_key)
            return [(None, payload)] if payload is not None else None

    return DeterministicRedis


def __getattr__(name: str) -> Any:
    # Imported lazily: the redis package is only needed when someone asks for this broker.
    if name == "DeterministicRedis":
        cls = _redis_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)
