"""What the driver remembers of each task, and what it records besides django-q2's signals.

* :class:`TaskBook` — each task's function, its attempt count, its broker ack ids, every enqueue;
* :func:`adopt_queued` — broker rows that exist before the run (a data migration left them);
* :func:`ledger_observer` — every call a fake records, copied into the timeline.

Each is given what it writes to (``record``: an event at the current instant), never the driver.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from harness.brokers import BrokerKind
from harness.record.timeline import HTTP_CALL, TASK_ENQUEUED

Record = Callable[..., Any]
"""``record(kind, **fields)``: an event at the current virtual instant."""


class TaskBook:
    """What the driver knows of each task: its function, its attempts, its broker ack ids, and
    every enqueue in order."""

    def __init__(self) -> None:
        self.funcs: dict[str, str] = {}
        self.attempts: dict[str, int] = {}
        self.acks: dict[Any, str] = {}  # OrmQ pk → task id
        self.enqueues: list[tuple[str, str]] = []  # (task, func) of every enqueue, in order

    def name(self, tid: str, func: Any) -> str:
        """Remember (once) and return the function's dotted name."""
        if tid not in self.funcs:
            self.funcs[tid] = func_repr(func)
        return self.funcs[tid]

    def func(self, tid: str | None) -> str | None:
        return self.funcs.get(tid) if tid is not None else None

    def next_attempt(self, tid: str) -> int:
        self.attempts[tid] = self.attempts.get(tid, 0) + 1
        return self.attempts[tid]


def adopt_queued(
    kind: BrokerKind,
    now: datetime,
    book: TaskBook,
    record: Record,
    add_finding: Callable[..., None],
    during: str,
) -> int:
    """Take over broker rows that exist before the run (a data migration enqueued them).

    They are recorded as ``task.enqueued`` (with ``during``) so the checkers follow them,
    and a row locked beyond now (its lock was set by the real clock at ``migrate``) becomes
    visible now, as it would be to a cluster started right after that migrate. Returns how
    many rows were adopted.
    """
    from django_q.conf import Conf
    from django_q.models import OrmQ

    if not kind.rows_in_sql:
        return 0
    adopted = 0
    for row in OrmQ.objects.order_by("id"):
        try:
            task = row.task  # a cached_property: the signed payload, decoded
        except Exception as exc:  # unreadable: the pusher would discard it too
            add_finding("unreadable queued task", row=row.pk, error=str(exc)[:200])
            continue
        tid = task["id"]
        record(
            TASK_ENQUEUED,
            task=tid,
            func=book.name(tid, task["func"]),
            args=task.get("args"),
            kwargs=task.get("kwargs"),
            queue=row.key or Conf.CLUSTER_NAME,
            group=task.get("group"),
            during=during,
        )
        if row.lock is None or row.lock > now:
            OrmQ.objects.filter(pk=row.pk).update(lock=now)
        adopted += 1
    return adopted


def ledger_observer(record: Record) -> Callable[[Any], None]:
    """A ledger subscriber that adds an ``http.call`` event per recorded call."""

    def on_entry(entry: Any) -> None:
        record(
            HTTP_CALL,
            fake=entry.fake,
            operation=entry.operation,
            key=entry.business_key,
            status=entry.status,
            effect=entry.effect,
            fault=entry.fault,
            task=entry.task_id,
            attempt=entry.attempt,
        )

    return on_entry


def func_repr(func: Any) -> str:
    from django_q.utils import get_func_repr

    return get_func_repr(func)
