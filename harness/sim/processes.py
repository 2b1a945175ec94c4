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
"""

from __future__ import annotations

import contextlib
import heapq
import queue
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from harness.record.timeline import brief
from harness.sim.cluster import ClusterState, Completion
from harness.sim.guards import guard_db, watchdog
from harness.sim.patches import cluster_conf, current_attempt, observe_due
from harness.sim.runaway import enqueue_parent
from harness.sim.scopes import Scope

BLOCKED_SECONDS = 2.0
"""A body blocked longer than this (and four times its CPU time) is a finding."""

if TYPE_CHECKING:
    from harness.sim.simulation import Simulation


class _Timer:
    """Stands in for the ``multiprocessing.Value`` a worker reports its state through."""

    value = -1.0

    def get_lock(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


class Processes:
    """The sentinel, pusher, workers and monitor of every simulated cluster of one run."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    # -- the sentinel: scheduler passes and going down / coming back -------------------------
    def scheduler_pass(self, c: ClusterState) -> None:
        """One ``scheduler()`` call. django-q2 runs the pass in one transaction: if it fails
        (an error it logs, or the watchdog stopping it) every enqueue it made is rolled back
        with it, and the timeline says so (``task.rolledback``) instead of ``schedule.fired``."""
        from django_q.scheduler import scheduler

        sim = self.sim
        now = sim.now()
        c.last_pass = now
        errors, mark = sim.scheduler_errors, len(sim.enqueue_log)
        due: list[dict[str, Any]] = []
        completed = False
        try:
            with (
                cluster_conf(c.spec.conf()),
                guard_db(),
                sim.as_process(("sentinel", c.name)),
                observe_due(due),
                watchdog(sim.watchdog_seconds, "scheduler pass", cluster=c.name),
            ):
                scheduler(broker=c.broker)
            completed = sim.scheduler_errors == errors
        finally:
            fired = sim.enqueue_log[mark:]
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
            self.sim.timeline.add(
                now,
                "schedule.fired",
                schedule=row["name"] or f"#{row['id']}",
                func=row["func"],
                task=match[0],
                slot=row["next_run"],
                cluster=c.name,
            )

    def _rolled_back(self, fired: list[tuple[str, str]], c: ClusterState) -> None:
        """Enqueues of a failed pass: gone with its transaction when the broker enqueues inside
        it (ORM); otherwise (Redis) they stay: django-q2's duplicates."""
        if not self.sim.kind.transactional_enqueue:
            return
        for task, _func in fired:
            self.sim.timeline.add(self.sim.now(), "task.rolledback", task=task, cluster=c.name)

    def set_up(self, c: ClusterState, up: bool) -> None:
        sim, now = self.sim, self.sim.now()
        if up and not c.up:
            c.up, c.up_since, c.last_pass = True, now, None
            sim.timeline.add(now, "cluster.up", cluster=c.name)
        elif not up and c.up:
            c.up = False
            for done in sim.take_completions(c):
                tid = done.result["id"]
                if sim.locks is not None:
                    sim.locks.kill((tid, done.attempt))
                sim.timeline.add(
                    now,
                    "task.killed",
                    task=tid,
                    func=sim.book.func(tid),
                    cluster=c.name,
                    attempt=done.attempt,
                )
            c.reset_slots()
            sim.timeline.add(now, "cluster.down", cluster=c.name)

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
            if c.dry == self.sim.dry_key(cap):
                return  # a pull found nothing at this instant and nothing was enqueued since
            batch = self.pull(c, cap)
            c.hold.extend(batch)
            exhausted = len(batch) < self.sim.kind.batch_size(c.spec.bulk)
            if exhausted:
                c.dry = self.sim.dry_key(cap)

    def pull(self, c: ClusterState, cap: int | None) -> list[dict[str, Any]]:
        """One ``pusher()`` batch (claiming rows up to ``cap`` only, for a drain)."""
        from django_q.pusher import pusher

        sim = self.sim
        event = threading.Event()
        event.set()  # exactly one dequeue() batch, then return
        tq: queue.Queue[Any] = queue.Queue()
        with cluster_conf(c.spec.conf()), guard_db(), c.broker.capped(cap):
            pusher(tq, event, c.broker)
        now = sim.now()
        batch = []
        while not tq.empty():
            task = tq.get_nowait()
            tid = task["id"]
            func = sim.book.name(tid, task["func"])
            if task.get("ack_id") is not None:
                sim.book.acks[task["ack_id"]] = tid
            sim.timeline.add(
                now,
                "task.claimed",
                task=tid,
                func=func,
                cluster=c.name,
                redelivery=tid in sim.book.attempts,
                lock_until=sim.kind.lock_until(now, c.spec.retry),
            )
            batch.append(task)
        return batch

    # -- the workers ---------------------------------------------------------------------------
    def start(self, c: ClusterState, task: dict[str, Any]) -> None:
        """A worker slot runs the task's code now; its result is due at its virtual end."""
        sim = self.sim
        now = sim.now()
        tid = task["id"]
        func = sim.book.name(tid, task["func"])
        attempt = sim.book.next_attempt(tid)
        timeout = _timeout(task.pop("timeout", None), c.spec.timeout)
        duration = sim.durations(func, task, attempt)
        sim.runaway.started(now)
        sim.timeline.add(
            now,
            "task.started",
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
        for hook in sim.after_task:  # after the body's writes: e.g. an invariant's rows
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
        sim.schedule_completion(finish, Completion(c, result, attempt, outcome, slot))

    def _run(
        self, c: ClusterState, task: dict[str, Any], slot: int, attempt: int, func: str
    ) -> tuple[dict[str, Any], Scope]:
        from django_q.worker import worker

        sim = self.sim
        tq: queue.Queue[Any] = queue.Queue()
        rq: queue.Queue[Any] = queue.Queue()
        tq.put(task)
        tq.put("STOP")
        token = current_attempt.set((task["id"], attempt))
        try:
            with (
                cluster_conf(c.spec.conf()),
                guard_db(),
                sim.as_process(("worker", c.name, str(slot))),
                watchdog(sim.watchdog_seconds, "task", task=task["id"], func=func, attempt=attempt),
                sim.calls.scope("task") as scope,
            ):
                worker(tq, rq, _Timer(), timeout=None)  # no SIGALRM: timeouts are virtual
        finally:
            current_attempt.reset(token)
        return rq.get_nowait(), scope

    def _observed(self, scope: Scope, tid: str, func: str, attempt: int) -> float:
        """Record what the body slept and logged; returns the seconds it slept (part of its
        virtual duration). Wall time blocked in ways nobody could intercept is a finding."""
        sim, now = self.sim, self.sim.now()
        slept = round(scope.slept, 6)  # virtual seconds, to the microsecond the clock keeps
        if slept:
            sim.timeline.add(
                now,
                "task.slept",
                task=tid,
                attempt=attempt,
                seconds=slept,
                calls=scope.sleeps,
            )
        if scope.counts:
            sim.timeline.add(
                now,
                "task.logged",
                task=tid,
                func=func,
                attempt=attempt,
                counts=dict(sorted(scope.counts.items())),
                records=[r.as_list() for r in scope.records],
            )
        if scope.blocked > BLOCKED_SECONDS and scope.blocked > 4 * (scope.cpu + 0.05):
            sim.add_finding(
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

        sim = self.sim
        c, res = done.cluster, done.result
        tid = res["id"]
        error = None if done.outcome == "ok" else _first_line(res.get("result"))
        returned = {} if error or res.get("result") is None else {"returned": brief(res["result"])}
        sim.timeline.add(
            sim.now(),
            "task.finished",
            task=tid,
            func=sim.book.func(tid),
            cluster=c.name,
            attempt=done.attempt,
            outcome=done.outcome,
            error=error,
            **returned,
        )
        rq: queue.Queue[Any] = queue.Queue()
        rq.put(res)
        rq.put("STOP")
        if sim.locks is not None:  # the body's releases happen at its virtual end
            sim.locks.finish((tid, done.attempt), ("worker", c.name, str(done.slot)))
        token = enqueue_parent.set((tid, "a hook or chain of " + str(sim.book.func(tid))))
        try:
            with cluster_conf(c.spec.conf()), guard_db(), sim.as_process(("monitor", c.name)):
                monitor(rq, c.broker)
        finally:
            enqueue_parent.reset(token)
        c.busy -= 1
        heapq.heappush(c.free, done.slot)
        if c.running.get(tid) == done.attempt:
            del c.running[tid]
        if done.outcome != "ok":
            sim.task_failed(tid, done.attempt, done.outcome, res.get("result"))


def _timeout(task_timeout: Any, cluster_timeout: int | None) -> int | None:
    """django-q2's rule: the task's own timeout, else the cluster's; negative means none."""
    timeout = cluster_timeout if task_timeout is None else task_timeout
    return None if timeout is not None and timeout < 0 else timeout


def _first_line(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text.splitlines()[0][:300] if text else text
