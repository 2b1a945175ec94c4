"""One history of a run, per task and per cluster, read once from the timeline.

Before this module five places rebuilt per-task state from the timeline and disagreed (the
report cleared every running task on any ``cluster.down``; queue-bound only that cluster's).
Now the driver's ``stats()``, the checkers and the report all read this: what each task went
through (enqueued or rolled back, claims, attempts with their outcome, ack or discard), and the
load over time (tasks waiting, tasks each cluster holds and runs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.record.timeline import (
    CLUSTER_DOWN,
    TASK_ACKED,
    TASK_CLAIMED,
    TASK_DISCARDED,
    TASK_ENQUEUED,
    TASK_FINISHED,
    TASK_KILLED,
    TASK_KINDS,
    TASK_LOGGED,
    TASK_ROLLEDBACK,
    TASK_SLEPT,
    TASK_STARTED,
    Event,
    Timeline,
)

OUTCOMES = ("ok", "failed", "timeout")


@dataclass
class Attempt:
    """One execution of a task by a worker."""

    number: int
    cluster: str | None
    started: dt.datetime
    seq: int  # the start event's index: orders attempts at one instant
    ended: dt.datetime | None = None
    ended_seq: int | None = None
    outcome: str | None = None  # ok | failed | timeout | killed (None: still running)
    error: str | None = None
    overlapped: int | None = None  # an earlier attempt still running when this one started
    duplicate: bool = False  # overlapping, or after the task had already succeeded
    returned: Any = None  # what the body returned (as the timeline keeps it), when it did
    slept: float = 0.0  # virtual seconds the body slept (part of its duration)
    logged: dict[str, int] = field(default_factory=dict)  # level → records (WARNING and up)
    records: list[list[str]] = field(default_factory=list)  # the first few: [level, logger, text]

    def running_at(self, seq: int) -> bool:
        return self.seq < seq and (self.ended_seq is None or self.ended_seq > seq)


@dataclass
class TaskHistory:
    """Everything that happened to one task."""

    id: str
    func: str | None = None
    enqueued: Event | None = None  # the first task.enqueued event
    rolled_back: bool = False  # its enqueue went with a failed scheduler pass
    claims: list[Event] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    acked: dt.datetime | None = None
    discarded: dt.datetime | None = None
    last: Event | None = None  # the latest task.* event about it
    queue: str | None = None

    @property
    def stands(self) -> bool:
        """It was enqueued, and the enqueue was not rolled back."""
        return self.enqueued is not None and not self.rolled_back

    @property
    def outcomes(self) -> list[str]:
        return [a.outcome for a in self.attempts if a.outcome in OUTCOMES]

    @property
    def last_outcome(self) -> str | None:
        """The outcome of the attempt that finished last (attempts may overlap)."""
        done = [a for a in self.attempts if a.outcome in OUTCOMES]
        return max(done, key=lambda a: a.ended_seq or 0).outcome if done else None

    @property
    def cluster(self) -> str | None:
        return self.attempts[-1].cluster if self.attempts else None

    @property
    def first_start(self) -> dt.datetime | None:
        return self.attempts[0].started if self.attempts else None


@dataclass
class Load:
    """The load at one event: tasks waiting to start, and per cluster held and running ids."""

    at: dt.datetime
    event: Event
    waiting: int
    held: dict[str, int]
    running: dict[str, int]


class History:
    """The per-task and per-cluster history of a timeline (built in one pass)."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.tasks: dict[str, TaskHistory] = {}
        self.loads: list[Load] = []
        self._build(timeline.events)

    def task(self, tid: str) -> TaskHistory:
        found = self.tasks.get(tid)
        if found is None:
            found = self.tasks[tid] = TaskHistory(tid)
        return found

    def enqueued(self) -> dict[str, TaskHistory]:
        """Tasks whose enqueue stands (in enqueue order)."""
        return {tid: t for tid, t in self.tasks.items() if t.stands}

    # -- building ----------------------------------------------------------------------------
    def _build(self, events: list[Event]) -> None:
        waiting: set[str] = set()
        held: dict[str, set[str]] = {}  # claimed, not finished: task ids
        running: dict[str, set[tuple[str, int]]] = {}  # (task id, attempt)
        succeeded: set[str] = set()
        for seq, e in enumerate(events):
            tid, cluster = e.data.get("task"), e.data.get("cluster")
            if e.kind == CLUSTER_DOWN:
                held[cluster] = set()
                running[cluster] = set()
                self._sample(e, waiting, held, running)
                continue
            if tid is None or e.kind not in TASK_KINDS:
                continue
            t = self.task(tid)
            t.last = e
            if e.data.get("func") and t.func is None:
                t.func = e.data["func"]
            if e.kind == TASK_ENQUEUED:
                if t.enqueued is None:
                    t.enqueued, t.queue = e, e.data.get("queue")
                waiting.add(tid)
            elif e.kind == TASK_ROLLEDBACK:
                t.rolled_back = True
                waiting.discard(tid)
            elif e.kind == TASK_CLAIMED:
                t.claims.append(e)
                held.setdefault(cluster, set()).add(tid)
            elif e.kind == TASK_STARTED:
                self._start(t, e, seq, succeeded)
                waiting.discard(tid)
                running.setdefault(cluster, set()).add((tid, e.data["attempt"]))
            elif e.kind in (TASK_FINISHED, TASK_KILLED):
                self._end(t, e, seq, succeeded)
                held.get(cluster, set()).discard(tid)
                running.get(cluster, set()).discard((tid, e.data.get("attempt")))
            elif e.kind in (TASK_SLEPT, TASK_LOGGED):
                self._note(t, e)
                continue
            elif e.kind == TASK_ACKED:
                t.acked = e.at
                continue
            elif e.kind == TASK_DISCARDED:
                t.discarded = e.at
                continue
            else:
                continue
            self._sample(e, waiting, held, running)

    def _start(self, t: TaskHistory, e: Event, seq: int, succeeded: set[str]) -> None:
        attempt = Attempt(e.data["attempt"], e.data.get("cluster"), e.at, seq)
        earlier = [a for a in t.attempts if a.running_at(seq)]
        if earlier:
            attempt.overlapped = earlier[0].number
        attempt.duplicate = bool(earlier) or t.id in succeeded
        t.attempts.append(attempt)

    def _note(self, t: TaskHistory, e: Event) -> None:
        """What an attempt's body slept or logged (recorded right after it ran)."""
        attempt = next((a for a in reversed(t.attempts) if a.number == e.data["attempt"]), None)
        if attempt is None:
            return
        if e.kind == TASK_SLEPT:
            attempt.slept = float(e.data["seconds"])
        else:
            attempt.logged = dict(e.data.get("counts") or {})
            attempt.records = [list(r) for r in e.data.get("records") or []]

    def _end(self, t: TaskHistory, e: Event, seq: int, succeeded: set[str]) -> None:
        number = e.data.get("attempt")
        for attempt in t.attempts:
            if attempt.number == number and attempt.ended_seq is None:
                attempt.ended, attempt.ended_seq = e.at, seq
                if e.kind == TASK_KILLED:
                    attempt.outcome = "killed"
                else:
                    attempt.outcome, attempt.error = e.data["outcome"], e.data.get("error")
                    attempt.returned = e.data.get("returned")
                    if attempt.outcome == "ok":
                        succeeded.add(t.id)
                return

    def _sample(
        self, e: Event, waiting: set[str], held: dict[str, set[str]], run: dict[str, set[Any]]
    ) -> None:
        self.loads.append(
            Load(
                e.at,
                e,
                len(waiting),
                {k: len(v) for k, v in held.items() if k is not None},
                {k: len(v) for k, v in run.items() if k is not None},
            )
        )

    # -- views -------------------------------------------------------------------------------
    def attempts(self) -> Iterator[tuple[TaskHistory, Attempt]]:
        """Every attempt of every task, in start order."""
        pairs = [(t, a) for t in self.tasks.values() for a in t.attempts]
        return iter(sorted(pairs, key=lambda pair: pair[1].seq))

    def stats(self) -> dict[str, dict[str, int]]:
        """Per function: runs, ok, failed, timeout, retries, duplicates (an execution that
        overlapped another of the same task, or came after it had succeeded)."""
        out: dict[str, dict[str, int]] = {}
        for t, attempt in self.attempts():
            row = out.setdefault(
                t.func or "?", dict(runs=0, ok=0, failed=0, timeout=0, retries=0, duplicates=0)
            )
            row["runs"] += 1
            row["retries"] += attempt.number > 1
            row["duplicates"] += attempt.duplicate
            if attempt.outcome in OUTCOMES:
                row[attempt.outcome] += 1
        return dict(sorted(out.items()))

    def peak_waiting(self) -> tuple[int, dt.datetime | None]:
        """The largest backlog (enqueued, not yet started) and when it was first reached."""
        peak, when = 0, None
        for load in self.loads:
            if load.waiting > peak:
                peak, when = load.waiting, load.at
        return peak, when


def of(source: Any) -> History:
    """The history of a timeline, or of anything with one (a Simulation, a RunResult)."""
    timeline = getattr(source, "timeline", source)
    return History(timeline)
