"""Task metrics and alert rules (the seed's "Task Metrics"): what the dashboard and
``/ops/metrics`` show.

Recording: django-q2's signals, no wrapper around any task. ``pre_execute`` (in the worker)
notes when the task really started in the task dict that travels on to the monitor;
``post_execute`` (in the monitor, after the result is saved) writes one :class:`TaskRun` row.
Per task function over a window: runs, failures, retries, p50/p95 duration and queue wait
(nearest-rank percentiles, the same definitions the harness asserts on in virtual time).

Alert rules, evaluated on demand (:func:`alerts`):

* ``schedule-overdue``: a schedule's ``next_run`` passed more than ``PRAHO_ALERT_OVERDUE``
  ago (default 10 minutes: longer than a scheduler pass plus a busy queue);
* ``failure-rate``: a function failed more than ``PRAHO_ALERT_FAILURE_RATE`` (default 0.2) of
  at least ``PRAHO_ALERT_MIN_RUNS`` (5) runs in the last 24 h;
* ``queue-near-limit``: a queue holds at least ``PRAHO_ALERT_QUEUE_FRACTION`` (0.8) of its
  cluster's ``queue_limit`` waiting tasks.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from apps.common.models import TaskRun

_STARTED = "praho_started_at"  # the key pre_execute adds to the task dict


def on_pre_execute(sender: Any, func: Any, task: dict[str, Any], **kwargs: Any) -> None:
    task[_STARTED] = timezone.now()


def on_post_execute(sender: Any, task: dict[str, Any], **kwargs: Any) -> None:
    from django_q.conf import Conf

    stopped = task.get("stopped") or timezone.now()
    func = task.get("func")
    TaskRun.objects.create(
        task_id=str(task.get("id", ""))[:32],
        func=func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}",
        queue=str(task.get("cluster") or Conf.PREFIX),
        group=str(task.get("group") or "")[:100],
        enqueued_at=task.get("started") or stopped,
        started_at=task.get(_STARTED) or stopped,
        stopped_at=stopped,
        success=bool(task.get("success")),
        attempt=int(task.get("attempt_count") or 1),
    )


def connect() -> None:
    """Called by ``CommonConfig.ready``: every process (web, qcluster, tests) records."""
    from django_q.signals import post_execute, pre_execute

    pre_execute.connect(on_pre_execute, dispatch_uid="praho-metrics-pre")
    post_execute.connect(on_post_execute, dispatch_uid="praho-metrics-post")


def percentile(values: Iterable[float], p: float) -> float | None:
    """Nearest-rank: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@dataclass
class FuncMetrics:
    func: str
    runs: int = 0
    failures: int = 0
    retries: int = 0
    waits: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)

    @property
    def failure_rate(self) -> float:
        return self.failures / self.runs if self.runs else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "func": self.func,
            "runs": self.runs,
            "failures": self.failures,
            "retries": self.retries,
            "failure_rate": round(self.failure_rate, 4),
            "duration_p50": percentile(self.durations, 50),
            "duration_p95": percentile(self.durations, 95),
            "wait_p50": percentile(self.waits, 50),
            "wait_p95": percentile(self.waits, 95),
        }


def function_metrics(window: timedelta = timedelta(hours=24)) -> list[FuncMetrics]:
    """Per task function, the runs that ended in the last ``window`` (functions sorted)."""
    since = timezone.now() - window
    out: dict[str, FuncMetrics] = {}
    rows = TaskRun.objects.filter(stopped_at__gte=since).values_list(
        "func", "success", "attempt", "enqueued_at", "started_at", "stopped_at"
    )
    for func, success, attempt, enqueued, started, stopped in rows:
        m = out.setdefault(func, FuncMetrics(func))
        m.runs += 1
        m.failures += not success
        if attempt > 1:
            m.retries += 1
        else:
            m.waits.append(max(0.0, (started - enqueued).total_seconds()))
        m.durations.append(max(0.0, (stopped - started).total_seconds()))
    return [out[k] for k in sorted(out)]


@dataclass(frozen=True)
class QueueState:
    queue: str
    depth: int  # waiting in the broker (not yet pulled)
    oldest: datetime | None  # enqueue time of the oldest waiting task
    limit: int | None  # the serving cluster's queue_limit


def queues() -> list[QueueState]:
    """Each cluster's queue in the ORM broker: depth, oldest waiting task, queue_limit."""
    from django_q.models import OrmQ

    now = timezone.now()
    conf = getattr(settings, "Q_CLUSTER", {}) or {}
    names = {conf.get("name", "default")}
    if getattr(settings, "PRAHO_PRIORITY_CLUSTERS", False):
        names |= set(conf.get("ALT_CLUSTERS") or {})
    rows = {
        key: (n, first)
        for key, n, first in OrmQ.objects.filter(lock__lte=now)
        .values_list("key")
        .annotate(n=Count("id"), first=Min("id"))
    }
    oldest: dict[str, datetime | None] = defaultdict(lambda: None)
    for key, (_, first_id) in rows.items():
        row = OrmQ.objects.filter(pk=first_id).first()
        oldest[key] = row.task.get("started") if row is not None else None
    out = []
    for name in sorted(names | set(rows)):
        own = (conf.get("ALT_CLUSTERS") or {}).get(name, {})
        limit = own.get("queue_limit", conf.get("queue_limit"))
        out.append(QueueState(name, rows.get(name, (0, None))[0], oldest[name], limit))
    return out


@dataclass(frozen=True)
class Alert:
    rule: str
    subject: str
    message: str


def alerts(metrics: list[FuncMetrics] | None = None) -> list[Alert]:
    """The alert rules above, evaluated now."""
    from django_q.models import Schedule

    now = timezone.now()
    overdue = timedelta(seconds=getattr(settings, "PRAHO_ALERT_OVERDUE", 600))
    rate = getattr(settings, "PRAHO_ALERT_FAILURE_RATE", 0.2)
    min_runs = getattr(settings, "PRAHO_ALERT_MIN_RUNS", 5)
    fraction = getattr(settings, "PRAHO_ALERT_QUEUE_FRACTION", 0.8)
    out = []
    for s in Schedule.objects.exclude(repeats=0).filter(next_run__lt=now - overdue):
        late = int((now - s.next_run).total_seconds() // 60)
        out.append(Alert("schedule-overdue", s.name or s.func, f"due {late} min ago"))
    for m in function_metrics() if metrics is None else metrics:
        if m.runs >= min_runs and m.failure_rate > rate:
            out.append(
                Alert(
                    "failure-rate",
                    m.func,
                    f"{m.failures} of {m.runs} runs failed ({m.failure_rate:.0%} > {rate:.0%})",
                )
            )
    for q in queues():
        if q.limit and q.depth >= fraction * q.limit:
            out.append(
                Alert("queue-near-limit", q.queue, f"{q.depth} waiting, queue_limit {q.limit}")
            )
    return out
