"""django-q2's four processes of a simulated cluster, called in-process at virtual instants.

* the **sentinel's scheduler pass**: ``scheduler()``, one transaction; if it fails, every enqueue
  it made goes with it (``task.rolledback``);
* the **pusher**: ``pusher()`` with a pre-set event claims exactly one ``bulk`` batch, which is
  held the way a blocked pusher holds it until the in-memory queue (``queue_limit``) has room;
* the **workers**: ``worker()`` on one task at a time per slot; the task's code runs *now*, its
  virtual duration (:class:`~harness.sim.cluster.Durations`) decides when its result reaches
* the **monitor**: ``monitor()`` (``save_task``, ack, hooks, chains) at the attempt's end.

A task whose duration exceeds its timeout is recorded the way django-q2 records a SIGALRM
timeout (failed, "Task exceeded maximum timeout value (N seconds)", not acked) at start +
timeout — its code did run, which is the dangerous case a checker should see.

The processes see the run through :class:`~harness.sim._core.services.Services` only.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import queue
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from harness.record.timeline import (
    CLUSTER_DOWN,
    CLUSTER_UP,
    SCHEDULE_FIRED,
    TASK_CLAIMED,
    TASK_FINISHED,
    TASK_KILLED,
    TASK_LOGGED,
    TASK_ROLLEDBACK,
    TASK_SLEPT,
    TASK_STARTED,
    brief,
)
from harness.sim._core.services import Services
from harness.sim.cluster import ClusterState, Completion
from harness.sim.guards import guard_db, watchdog
from harness.sim.patches import cluster_conf, current_attempt, observe_due
from harness.sim.runaway import enqueue_parent
from harness.sim.scopes import Scope

BLOCKED_SECONDS = 2.0
"""A body blocked longer than this (and four times its CPU time) is a finding."""


class _Timer:
    """Stands in for the ``multiprocessing.Value`` a worker reports its state through."""

    value = -1.0

    def get_lock(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


class Processes:
    """The sentinel, pusher, workers and monitor of every simulated cluster of one run."""

    def __init__(self, run: Services) -> None:
        self.run = run

    # -- the sentinel: scheduler passes and going down / coming back -------------------------
    def scheduler_pass(self, c: ClusterState) -> None:
        """One ``scheduler()`` call. django-q2 runs the pass in one transaction: if it fails
        (an error it logs, or the watchdog stopping it) every enqueue it made is rolled back
        with it, and the timeline says so (``task.rolledback``) instead of ``schedule.fired``."""
        from django_q.scheduler import scheduler

        run = self.run
        now = run.now()
        c.last_pass = now
        mark = len(run.book.enqueues)
        due: list[dict[str, Any]] = []
        failed: list[logging.LogRecord] = []
        completed = False
        try:
            with (
                cluster_conf(c.spec.conf()),
                guard_db(),
                run.as_process(("sentinel", c.name)),
                observe_due(due),
                _pass_failures(scheduler, failed),
                watchdog(run.watchdog_seconds, "scheduler pass", cluster=c.name),
            ):
                scheduler(broker=c.broker)
            completed = not failed
        finally:
            fired = run.book.enqueues[mark:]
            if not completed:
                self._rolled_back(fired, c)
        if completed:
            self._fired(c, now, due, fired)

    def _fired(
        self, c: ClusterState, now: datetime, due: list[dict[str, Any]], fired: list[Any]
    ) -> None:
        pending = list(fired)
        for row in due:
            match = next((e for e in pending if e[1] == row["func"]), None)
            if match is None:
                continue
            pending.remove(match)
            self.run.record(
                SCHEDULE_FIRED,
                schedule=row["name"] or f"#{row['id']}",
                func=row["func"],
                task=match[0],
                slot=row["next_run"],
                cluster=c.name,
            )

    def _rolled_back(self, fired: list[tuple[str, str]], c: ClusterState) -> None:
        """Enqueues of a failed pass: gone with its transaction when the broker enqueues inside
        it (ORM); otherwise (Redis) they stay: django-q2's duplicates."""
        if not self.run.kind.transactional_enqueue:
            return
        for task, _func in fired:
            self.run.record(TASK_ROLLEDBACK, task=task, cluster=c.name)

    def set_up(self, c: ClusterState, up: bool) -> None:
        run, now = self.run, self.run.now()
        if up and not c.up:
            c.up, c.up_since, c.last_pass = True, now, None
            run.record(CLUSTER_UP, cluster=c.name)
        elif not up and c.up:
            c.up = False
            for done in run.agenda.take(c):
                tid = done.result["id"]
                if run.locks is not None:
                    run.locks.kill((tid, done.attempt))
                run.record(
                    TASK_KILLED,
                    task=tid,
                    func=run.book.func(tid),
                    cluster=c.name,
                    attempt=done.attempt,
                )
            c.reset_slots()
            run.record(CLUSTER_DOWN, cluster=c.name)

    # -- the pusher ----------------------------------------------------------------------------
    def pump(self, c: ClusterState, cap: int | None) -> None:
        """Workers take from the queue; the pusher refills it one ``bulk`` batch at a time.

        Like the real pusher, a new batch is claimed as soon as the previous one is fully in
        the queue, so up to ``queue_limit + bulk + workers`` tasks are locked at once.
        """
        exhausted = False  # a short batch: nothing else is visible at this instant
        while True:
            progressed = False
            while c.hold and len(c.mem) < c.spec.capacity:
                c.mem.append(c.hold.popleft())
                progressed = True
            while c.busy < c.spec.workers and c.mem:
                self.start(c, c.mem.popleft())
                progressed = True
            if c.hold or exhausted:
                if progressed:
                    continue
                return  # blocked on a full queue, or idle
            if self.run.dry.is_dry(c, cap):
                return  # a pull found nothing at this instant and nothing was enqueued since
            batch = self.pull(c, cap)
            c.hold.extend(batch)
            exhausted = len(batch) < self.run.kind.batch_size(c.spec.bulk)
            if exhausted:
                self.run.dry.found_nothing_more(c, cap)

    def pull(self, c: ClusterState, cap: int | None) -> list[dict[str, Any]]:
        """One ``pusher()`` batch (claiming rows up to ``cap`` only, for a drain)."""
        from django_q.pusher import pusher

        run = self.run
        event = threading.Event()
        event.set()  # exactly one dequeue() batch, then return
        tq: queue.Queue[Any] = queue.Queue()
        with cluster_conf(c.spec.conf()), guard_db(), c.broker.capped(cap):
            pusher(tq, event, c.broker)
        now = run.now()
        batch = []
        while not tq.empty():
            task = tq.get_nowait()
            tid = task["id"]
            func = run.book.name(tid, task["func"])
            if task.get("ack_id") is not None:
                run.book.acks[task["ack_id"]] = tid
            run.record(
                TASK_CLAIMED,
                task=tid,
                func=func,
                cluster=c.name,
                redelivery=tid in run.book.attempts,
                lock_until=run.kind.lock_until(now, c.spec.retry),
            )
            batch.append(task)
        return batch

    # -- the workers ---------------------------------------------------------------------------
    def start(self, c: ClusterState, task: dict[str, Any]) -> None:
        """A worker slot runs the task's code now; its result is due at its virtual end."""
        run = self.run
        now = run.now()
        tid = task["id"]
        func = run.book.name(tid, task["func"])
        attempt = run.book.next_attempt(tid)
        timeout = _timeout(task.pop("timeout", None), c.spec.timeout)
        duration = run.durations(func, task, attempt)
        run.runaway.started(now)
        run.record(
            TASK_STARTED,
            task=tid,
            func=func,
            cluster=c.name,
            attempt=attempt,
            timeout=timeout,
        )
        c.busy += 1
        slot = heapq.heappop(c.free)
        c.running[tid] = attempt
        result, scope = self._run(c, task, slot, attempt, func)
        for hook in run.after_task:  # after the body's writes: e.g. an invariant's rows
            hook(func, tid, attempt)
        duration += self._observed(scope, tid, func, attempt)
        outcome = "ok" if result["success"] else "failed"
        finish = now + timedelta(seconds=duration)
        if timeout is not None and duration > timeout:
            outcome, finish = "timeout", now + timedelta(seconds=timeout)
            result["success"] = False
            result["result"] = (
                f"Task exceeded maximum timeout value ({timeout} seconds) : "
                f"virtual duration {duration:g} s (dq-harness)"
            )
        result["stopped"] = finish
        run.agenda.complete(finish, Completion(c, result, attempt, outcome, slot))

    def _run(
        self, c: ClusterState, task: dict[str, Any], slot: int, attempt: int, func: str
    ) -> tuple[dict[str, Any], Scope]:
        from django_q.worker import worker

        run = self.run
        tq: queue.Queue[Any] = queue.Queue()
        rq: queue.Queue[Any] = queue.Queue()
        tq.put(task)
        tq.put("STOP")
        token = current_attempt.set((task["id"], attempt))
        try:
            with (
                cluster_conf(c.spec.conf()),
                guard_db(),
                run.as_process(("worker", c.name, str(slot))),
                watchdog(run.watchdog_seconds, "task", task=task["id"], func=func, attempt=attempt),
                run.calls.scope("task") as scope,
            ):
                worker(tq, rq, _Timer(), timeout=None)  # no SIGALRM: timeouts are virtual
        finally:
            current_attempt.reset(token)
        return rq.get_nowait(), scope

    def _observed(self, scope: Scope, tid: str, func: str, attempt: int) -> float:
        """Record what the body slept and logged; returns the seconds it slept (part of its
        virtual duration). Wall time blocked in ways nobody could intercept is a finding."""
        run = self.run
        slept = round(scope.slept, 6)  # virtual seconds, to the microsecond the clock keeps
        if slept:
            run.record(
                TASK_SLEPT,
                task=tid,
                attempt=attempt,
                seconds=slept,
                calls=scope.sleeps,
            )
        if scope.counts:
            run.record(
                TASK_LOGGED,
                task=tid,
                func=func,
                attempt=attempt,
                counts=dict(sorted(scope.counts.items())),
                records=[r.as_list() for r in scope.records],
            )
        if scope.blocked > BLOCKED_SECONDS and scope.blocked > 4 * (scope.cpu + 0.05):
            run.add_finding(
                "blocked",
                task=tid,
                func=func,
                attempt=attempt,
                detail=f"more than {BLOCKED_SECONDS:g} s of wall time neither on the CPU nor in "
                "the database (a socket wait, a lock, or a sleep the harness could not "
                "intercept)",
            )
        return slept

    # -- the monitor ---------------------------------------------------------------------------
    def complete(self, done: Completion) -> None:
        """The attempt's virtual end: its releases happen, and ``monitor()`` saves and acks."""
        from django_q.monitor import monitor

        run = self.run
        c, res = done.cluster, done.result
        tid = res["id"]
        error = None if done.outcome == "ok" else _first_line(res.get("result"))
        returned = {} if error or res.get("result") is None else {"returned": brief(res["result"])}
        run.record(
            TASK_FINISHED,
            task=tid,
            func=run.book.func(tid),
            cluster=c.name,
            attempt=done.attempt,
            outcome=done.outcome,
            error=error,
            **returned,
        )
        rq: queue.Queue[Any] = queue.Queue()
        rq.put(res)
        rq.put("STOP")
        if run.locks is not None:  # the body's releases happen at its virtual end
            run.locks.finish((tid, done.attempt), ("worker", c.name, str(done.slot)))
        token = enqueue_parent.set((tid, "a hook or chain of " + str(run.book.func(tid))))
        try:
            with cluster_conf(c.spec.conf()), guard_db(), run.as_process(("monitor", c.name)):
                monitor(rq, c.broker)
        finally:
            enqueue_parent.reset(token)
        c.busy -= 1
        heapq.heappush(c.free, done.slot)
        if c.running.get(tid) == done.attempt:
            del c.running[tid]
        if done.outcome != "ok":
            run.task_failed(tid, done.attempt, done.outcome, res.get("result"))


class _PassFailures(logging.Handler):
    """Keeps the records that say a ``scheduler()`` call failed (see :func:`_pass_failures`)."""

    def __init__(self, scheduler: Any, into: list[logging.LogRecord]) -> None:
        super().__init__(level=logging.ERROR)
        self.code, self.into = scheduler.__code__, into

    def emit(self, record: logging.LogRecord) -> None:
        if (
            record.exc_info is not None
            and record.funcName == self.code.co_name
            and record.pathname == self.code.co_filename
        ):
            self.into.append(record)


@contextlib.contextmanager
def _pass_failures(scheduler: Any, into: list[logging.LogRecord]) -> Iterator[None]:
    """Within the block, every record saying the ``scheduler()`` pass failed goes to ``into``.

    django-q2's ``scheduler()`` runs its pass in one ``transaction.atomic`` block inside
    ``try: … except Exception: logger.exception(…)``. A record with exception info logged by
    ``scheduler()``'s own code is that handler's: the block was left by an exception, so all
    the pass wrote, its enqueues included, was rolled back. The record is told by where it comes
    from (django-q2's own function and file), not by the wording of its message; django-q2 keeps
    no constant for that message, and ``scheduler.py`` is the same in 1.9.x and 1.11.x
    (``harness/compat.py``). Its other error in a pass ("failed to create a task from
    schedule", ``async_task`` returned nothing) is logged without exception info and rolls
    nothing back.
    """
    handler = _PassFailures(scheduler, into)
    qlog = logging.getLogger("django-q")  # django_q.conf.logger, which scheduler() logs to
    qlog.addHandler(handler)
    try:
        yield
    finally:
        qlog.removeHandler(handler)


def _timeout(task_timeout: Any, cluster_timeout: int | None) -> int | None:
    """django-q2's rule: the task's own timeout, else the cluster's; negative means none."""
    timeout = cluster_timeout if task_timeout is None else task_timeout
    return None if timeout is not None and timeout < 0 else timeout


def _first_line(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text.splitlines()[0][:300] if text else text
