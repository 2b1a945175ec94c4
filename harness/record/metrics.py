"""Task metrics in virtual time: per function, runs, failures, retries, duration and queue wait.

The same figures an operator's dashboard shows from a live cluster (the reference platform's
``/ops/metrics``), computed from what a run recorded, so a scenario can assert on them
(``[expect.task-metrics]``): the p95 queue wait of ``apps.billing.*`` during a bulk import, the
worst wait of any customer but the one ordering 500 accounts.

Definitions (one place): a *run* is an attempt that finished (ok, failed or timed out); a
*failure* is a run that did not succeed; a *retry* is a run after the task's first; *duration*
is a run's start → end; *wait* is a task's enqueue → first start (a task still waiting at the
end counts with its wait so far). Percentiles are nearest-rank: the smallest value with at
least p % of the values at or below it.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.record.history import OUTCOMES, History, TaskHistory


def percentile(values: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0..100); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Metrics:
    """The figures of one group of tasks (a function, a glob, a tenant)."""

    tasks: int = 0
    runs: int = 0
    failures: int = 0
    retries: int = 0
    waits: list[float] = field(default_factory=list)  # seconds, one per task
    durations: list[float] = field(default_factory=list)  # seconds, one per run
    still_waiting: int = 0  # tasks never started by the end

    def add(self, task: TaskHistory, end: dt.datetime) -> None:
        if task.enqueued is None:
            return
        self.tasks += 1
        start = task.first_start
        if start is None:
            self.still_waiting += 1
        self.waits.append(((start or end) - task.enqueued.at).total_seconds())
        for attempt in task.attempts:
            if attempt.outcome not in OUTCOMES or attempt.ended is None:
                continue
            self.runs += 1
            self.failures += attempt.outcome != "ok"
            self.retries += attempt.number > 1
            self.durations.append((attempt.ended - attempt.started).total_seconds())

    @property
    def failure_rate(self) -> float:
        return self.failures / self.runs if self.runs else 0.0

    def wait(self, p: float) -> float | None:
        return percentile(self.waits, p)

    def duration(self, p: float) -> float | None:
        return percentile(self.durations, p)


def by_function(history: History, end: dt.datetime) -> dict[str, Metrics]:
    """Metrics per task function (tasks whose enqueue stands), functions sorted."""
    out: dict[str, Metrics] = {}
    for task in history.enqueued().values():
        out.setdefault(task.func or "?", Metrics()).add(task, end)
    return dict(sorted(out.items()))


def matching(
    history: History, end: dt.datetime, pattern: str, per_group: bool = False
) -> dict[str | None, Metrics]:
    """Metrics of the tasks whose function matches ``pattern`` (a glob), all together (key
    None) or per django-q2 ``group`` (``async_task(..., group=...)``: a tenant, a batch)."""
    out: dict[str | None, Metrics] = {}
    for task in history.enqueued().values():
        if not fnmatch.fnmatchcase(task.func or "", pattern):
            continue
        key = task.enqueued.data.get("group") if per_group and task.enqueued else None
        out.setdefault(key, Metrics()).add(task, end)
    return out
