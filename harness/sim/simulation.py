"""The discrete-event driver: django-q2's own scheduler, pusher, worker and monitor, in-process.

Real clusters poll; this one jumps. Each step moves the virtual clock to the next instant at
which something can happen and nothing in between:

* a running task's virtual completion (→ ``monitor()``: ``save_task`` + ack + hooks + chains);
* an injected arrival (a load generator calling ``async_task``);
* a cluster going down or coming back;
* a scheduler pass on the guard grid (``up_since + phase + 30 s·k``, as ``Sentinel.guard`` runs
  it) — only passes at which some schedule is due (``next_run < pass``) are executed, because a
  pass with nothing due changes nothing;
* an OrmQ row becoming visible (``lock < now``; a fresh enqueue at T is visible at T + 1 µs,
  an un-acked task ``retry`` seconds after it was claimed).

At each instant the order is fixed (transitions, completions, arrivals, scheduler passes, then
+1 µs and pull/start per cluster in declaration order), so a run is a pure function of the
scenario and the seed. What each of django-q2's processes does is in
:mod:`harness.sim.processes`; a task still running when ``retry`` expires is claimed again by a
free slot: the duplicate-execution class of bug, reproduced.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from harness.brokers import DEFAULT, broker_kind
from harness.infra.affinity import Colocation, colocate
from harness.record.timeline import Timeline
from harness.sim import accelerate
from harness.sim.clock import DEFAULT_ENGINE, Engine, VirtualClock
from harness.sim.cluster import EPS, ClusterSpec, ClusterState, Completion, Durations
from harness.sim.guards import (
    FindingCollector,
    WatchdogExpired,
    broker_hosts,
    guard_db,
    in_error,
    project_zone,
    watchdog_finding,
)
from harness.sim.locks import LockModel
from harness.sim.lookahead import Lookahead, next_time
from harness.sim.network import NetworkGuard
from harness.sim.patches import current_attempt, install
from harness.sim.processes import Processes
from harness.sim.recorder import TaskBook, adopt_queued, func_repr, ledger_observer
from harness.sim.runaway import Budget, RunawayGuard, RunawayStop, enqueue_parent
from harness.sim.scopes import CallObserver

__all__ = ["ClusterSpec", "Durations", "Simulation", "SimulationError", "TaskFailed"]


class SimulationError(AssertionError):
    """A run ended with a finding that must fail it (scheduler error, watchdog, …)."""


class TaskFailed(AssertionError):
    """Raised in the test when ``raise_task_errors`` is on and a task failed."""


class Simulation:
    """A deterministic, in-process Django-Q2 deployment under a virtual clock.

    Use as a context manager (or :meth:`open`/:meth:`close`)::

        with Simulation(start=datetime(2026, 3, 1, tzinfo=UTC), seed=7) as sim:
            async_task("myapp.tasks.ping")
            sim.advance(minutes=5)
            assert sim.timeline.of("task.finished", outcome="ok")
    """

    def __init__(
        self,
        start: datetime,
        clusters: list[ClusterSpec] | None = None,
        *,
        seed: int = 0,
        durations: Durations | None = None,
        engine: Engine = DEFAULT_ENGINE,
        watchdog_seconds: float | None = 10.0,
        raise_task_errors: bool = False,
        strict: bool = True,
        broker: str = DEFAULT.name,
        django_q_log_level: int | str | None = logging.WARNING,
        colocate: bool = True,
        lock_helpers: list[str] | tuple[str, ...] = (),
        network_guard: bool = True,
        faithful: bool = False,
        runaway: Budget | None = None,
    ) -> None:
        # UTC on purpose: the scheduler grid is start + 30 s·k, and aware arithmetic on a
        # ZoneInfo datetime is wall-clock arithmetic (it would shift the grid by an hour at a
        # DST change and replay a past pass forever).
        self.start = start.astimezone(UTC) if start.tzinfo is not None else start
        self._specs = clusters
        self.seed = seed
        self.durations = durations or Durations(seed=seed)
        self.clock = VirtualClock(start, engine)
        self.watchdog_seconds = watchdog_seconds
        self.raise_task_errors = raise_task_errors
        self.strict = strict
        self.broker_kind, self.kind = broker, broker_kind(broker)  # its name; what it does
        self.django_q_log_level = django_q_log_level
        self.colocate = colocate
        self.colocation: Colocation | None = None  # set by open(): pinned CPU, or why not
        self.lock_helpers = tuple(lock_helpers)
        self.network_guard = network_guard
        self.guard: NetworkGuard | None = None  # set by open() when network_guard is on
        self.faithful = faithful  # True: django-q2's own code everywhere (no accelerations)
        self.accelerations: Any = None  # harness.sim.accelerate.SaveTaskAccelerations
        self.locks: LockModel | None = None  # set by open() (harness.sim.locks)
        self.calls: CallObserver | None = None  # set by open(): sleeps, logs (harness.sim.scopes)
        self.runaway = RunawayGuard(runaway)
        self.timeline = Timeline()
        self.findings: list[dict[str, Any]] = []
        self.clusters: list[ClusterState] = []
        self.book = TaskBook()
        self.processes = Processes(self)
        self.enqueue_log: list[tuple[str, str]] = []  # (task, func) of every enqueue, in order
        self.scheduler_errors = 0  # passes django-q2 logged as failed (and rolled back)
        self.stopped: dict[str, Any] | None = None  # the finding that ended the run (watchdog…)
        self.interrupted: str | None = None  # the signal that stopped a replay (its runner sets)
        self.probes: list[Callable[[Simulation], None]] = []  # called after every step
        self.after_task: list[Callable[[str, str, int], None]] = []  # (func, task, attempt)
        self._completions: list[tuple[datetime, int, Completion]] = []
        self._arrivals: list[tuple[datetime, int, Callable[[], Any]]] = []
        self._seq = itertools.count()
        self._pending_failure: BaseException | None = None
        self._last_enqueue: datetime | None = None
        self._adopted = 0
        self._undo: list[Callable[[], None]] = []

    # -- lifecycle ----------------------------------------------------------------------------
    def open(self) -> Simulation:
        """Install the patches, start the clock, connect the observers (undone by close)."""
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> None:
        from django_q.conf import Conf

        from harness.sim import broker as brokers

        specs = [
            s if s.name else replace(s, name=Conf.CLUSTER_NAME)
            for s in (self._specs or [ClusterSpec.from_conf()])
        ]
        patches = install(self.seed, self.kind.broker_class)
        self._undo.append(patches.undo)
        if not self.faithful:
            self.accelerations = accelerate.install(patches)
        self.clock.start()
        self._undo.append(self.clock.stop)
        self.calls = CallObserver(self.clock.view)
        self.calls.install()
        self._undo.append(self.calls.uninstall)
        if self.colocate:
            from django.db import connection

            self.colocation = colocate(connection, worker=os.environ.get("PYTEST_XDIST_WORKER"))
            self._undo.append(self.colocation.release)
        cls = getattr(brokers, self.kind.broker_class.rsplit(".", 1)[1])
        for s in specs:
            broker = cls(list_key=s.name, bulk=s.bulk, retry=s.retry)
            broker.observer = self._on_broker
            self.clusters.append(ClusterState(s, broker, self.start))
        if self.network_guard:
            guard = NetworkGuard(self.add_finding, self.book.func, allow=broker_hosts())
            guard.install()
            self._undo.append(guard.uninstall)
            self.guard = guard
        self.locks = LockModel(self.add_finding, self._lock_event)
        self.locks.func_of = self.book.func
        self._undo.append(self.locks.uninstall)
        self.locks.install(self.lock_helpers)
        self._observe_django_q()

    def _observe_django_q(self) -> None:
        """Every enqueue (``pre_enqueue``) and every error django-q2 only logs."""
        from django_q.signals import pre_enqueue

        uid = f"harness-{id(self)}"
        pre_enqueue.connect(self._on_enqueue, dispatch_uid=uid)
        self._undo.append(lambda: pre_enqueue.disconnect(dispatch_uid=uid))
        handler = FindingCollector(self._on_log_finding)
        qlog = logging.getLogger("django-q")
        qlog.addHandler(handler)
        self._undo.append(lambda: qlog.removeHandler(handler))
        if self.django_q_log_level is not None:
            # django-q2 logs several INFO lines per task; at simulation speed that is noise
            # (and time). Findings only need ERROR records, which still arrive.
            level = qlog.level
            qlog.setLevel(self.django_q_log_level)
            self._undo.append(lambda: qlog.setLevel(level))

    def close(self) -> None:
        while self._undo:
            self._undo.pop()()

    def __enter__(self) -> Simulation:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API ----------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def at(self, when: datetime, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` at virtual time ``when`` (e.g. an ``async_task`` call)."""
        heapq.heappush(self._arrivals, (when, next(self._seq), lambda: fn(*args, **kwargs)))

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Let ``delta`` of virtual time pass, processing everything due on the way."""
        target = self.now() + (delta or timedelta()) + timedelta(**parts)
        self.run_until(target)
        return self.now()

    def run_until(
        self,
        until: datetime | Callable[[Simulation], bool],
        horizon: timedelta = timedelta(days=366),
    ) -> datetime:
        """Run until an instant, or until ``until(sim)`` is true (at most ``horizon`` ahead)."""
        if callable(until):
            limit = self.now() + horizon
            while not until(self):
                if self.stopped is not None:
                    return self.now()
                if not self._step(limit):
                    raise SimulationError(
                        f"run_until: condition still false at {self.now().isoformat()} "
                        f"with nothing left to happen before {limit.isoformat()}"
                    )
            return self.now()
        while self._step(until):
            pass
        if self.stopped is None:
            self.clock.move_to(max(until, self.now()))
        return self.now()

    def drain(
        self,
        *,
        with_scheduled: bool = False,
        with_recursion: bool = True,
        horizon: timedelta = timedelta(days=30),
    ) -> dict[str, int]:
        """Run what is enqueued now until nothing is left to run (Oban's ``drain_queue``).

        ``with_recursion=False`` leaves tasks that the drained tasks enqueue (only broker rows
        up to the newest one now are claimed); ``with_scheduled`` also waits for redeliveries
        of un-acked tasks and fires due schedules on the way. Returns counts of outcomes
        (``ok``, ``failed``, ``timeout``) of the executions it caused.
        """
        from django.db.models import Max
        from django_q.models import OrmQ

        mark = len(self.timeline)
        limit = self.now() + horizon
        cap = None if with_recursion else (OrmQ.objects.aggregate(m=Max("id"))["m"] or 0)
        while self._has_work(with_scheduled, cap) and self._step(limit, with_scheduled, cap):
            pass
        counts = {"ok": 0, "failed": 0, "timeout": 0}
        for event in self.timeline.events[mark:]:
            if event.kind == "task.finished":
                counts[event.data["outcome"]] += 1
        return counts

    def assert_enqueued(self, func: str, **criteria: Any) -> list[Any]:
        """See :func:`harness.record.assertions.assert_enqueued`."""
        from harness.record.assertions import assert_enqueued

        return assert_enqueued(self, func, **criteria)

    def refute_enqueued(self, func: str, **criteria: Any) -> None:
        """See :func:`harness.record.assertions.refute_enqueued`."""
        from harness.record.assertions import refute_enqueued

        refute_enqueued(self, func, **criteria)

    def all_enqueued(self, func: str | None = None, **criteria: Any) -> list[Any]:
        """See :func:`harness.record.assertions.all_enqueued`."""
        from harness.record.assertions import all_enqueued

        return all_enqueued(self, func, **criteria)

    def stats(self) -> dict[str, dict[str, int]]:
        """Per function: runs, ok, failed, timeout, retries, duplicates (overlapping or
        after-success executions of the same task): ``History.stats``."""
        from harness.record.history import History

        return History(self.timeline).stats()

    def add_finding(self, finding: str, **data: Any) -> None:
        """Record something that must fail the run (under ``strict``: fail it now)."""
        item = {"finding": finding, "at": self.now().isoformat(), **data}
        self.findings.append(item)
        self.timeline.add(self.now(), "finding", finding=finding, **data)
        if self.strict and self._pending_failure is None:
            from harness.record.findings import describe

            self._pending_failure = SimulationError(describe(item, project_zone()))

    def adopt_queued(self, during: str) -> int:
        """Take over broker rows that exist before the run (see :func:`~harness.sim.recorder.
        adopt_queued`); returns how many."""
        return adopt_queued(self, during)

    def observe_ledger(self, ledger: Any) -> None:
        """Copy every call a fake records into the timeline as ``http.call``."""
        ledger.subscribe(ledger_observer(self))

    # -- services for the processes ------------------------------------------------------------
    def as_process(self, proc: tuple[str, ...]) -> Any:
        """Run a call as one of a real cluster's processes (its own in-memory caches)."""
        import contextlib

        return contextlib.nullcontext() if self.locks is None else self.locks.process(proc)

    def schedule_completion(self, when: datetime, done: Completion) -> None:
        heapq.heappush(self._completions, (when, next(self._seq), done))

    def take_completions(self, c: ClusterState) -> list[Completion]:
        """Remove and return the attempts running on ``c`` (it went down: they are killed)."""
        kept, taken = [], []
        for item in self._completions:
            (taken if item[2].cluster is c else kept).append(item)
        heapq.heapify(kept)
        self._completions = kept
        return [item[2] for item in taken]  # heap order, as the timeline always had it

    def visible_at(self, when: datetime, rows: int) -> None:
        """``rows`` broker rows became visible at ``when`` without an enqueue (adopted)."""
        self._last_enqueue = when
        self._adopted += rows

    def next_completion(self) -> datetime | None:
        return self._completions[0][0] if self._completions else None

    def next_arrival(self) -> datetime | None:
        return self._arrivals[0][0] if self._arrivals else None

    def dry_key(self, cap: int | None) -> tuple[Any, ...]:
        """Within one step, rows become visible only by an enqueue (time and the drain cap
        stand still), so a later pull in the same state would be an empty round trip."""
        return (self.now(), len(self.enqueue_log), self._adopted, cap)

    def task_failed(self, tid: str, attempt: int, outcome: str, result: Any) -> None:
        if self.raise_task_errors and self._pending_failure is None:
            self._pending_failure = TaskFailed(
                f"{self.book.func(tid)} (task {tid}, attempt {attempt}) {outcome} "
                f"at {self.now().isoformat()}: {result}"
            )

    # -- the event loop ------------------------------------------------------------------------
    def _has_work(self, with_scheduled: bool, cap: int | None) -> bool:
        if self._completions or any(c.mem or c.hold for c in self.clusters):
            return True
        if with_scheduled:
            return next_time(self, True, cap).at is not None
        from django_q.models import OrmQ

        keys = sorted({c.broker.list_key for c in self.clusters if c.up})
        rows = OrmQ.objects.filter(key__in=keys, lock__lte=self.now() + EPS)
        if cap is not None:
            rows = rows.filter(id__lte=cap)
        return rows.exists()

    def _step(self, limit: datetime, schedules: bool = True, cap: int | None = None) -> bool:
        if self.stopped is not None:
            return False  # a call never returned: the run ends at that instant
        ahead = next_time(self, schedules, cap)
        t = ahead.at
        if t is None or t > limit:
            return False
        self.clock.move_to(t)
        try:
            self._instant([i for i, when in ahead.passes.items() if when <= t], cap, ahead)
        except WatchdogExpired as exc:
            self._abort(watchdog_finding(exc), "watchdog")
        except RunawayStop as exc:
            self._abort(dict(exc.args[0]), "runaway")
        for probe in self.probes:
            probe(self)
        self._raise_pending()
        return True

    def _instant(self, passes: list[int], cap: int | None, ahead: Lookahead) -> None:
        now, run = self.now(), self.processes
        for i, c in enumerate(self.clusters):
            # The first pull of a step runs unless the probe saw nothing visible in its queue
            # (then it would be an empty round trip; an enqueue since makes it run again).
            c.dry = self.dry_key(cap) if ahead.dry_at_start(i) else None
            while c.transitions and c.transitions[0][0] <= now:
                _, up = c.transitions.pop(0)
                run.set_up(c, up)
        while self._completions and self._completions[0][0] <= now:
            run.complete(heapq.heappop(self._completions)[2])
        while self._arrivals and self._arrivals[0][0] <= now:
            _, _, fn = heapq.heappop(self._arrivals)
            with guard_db():
                fn()
        for i in passes:
            if self.clusters[i].up:
                run.scheduler_pass(self.clusters[i])
        if self._last_enqueue == now:  # rows enqueued at `now` are visible from now + 1 µs
            self.clock.move_to(now + EPS)
        for c in self.clusters:
            if c.up:
                run.pump(c, cap)
        # Zero-duration work finishes at this same instant: save it and refill the freed slots
        # now instead of in another step (one probe query less per task; same order of events).
        while self._completions and self._completions[0][0] <= self.now():
            done = heapq.heappop(self._completions)[2]
            run.complete(done)
            if done.cluster.up:
                run.pump(done.cluster, cap)

    def _raise_pending(self) -> None:
        if self._pending_failure is not None:
            exc, self._pending_failure = self._pending_failure, None
            raise exc

    # -- observers -----------------------------------------------------------------------------
    def _on_enqueue(self, sender: Any, task: dict[str, Any], **_: Any) -> None:
        from django_q.conf import Conf

        tid = task["id"]
        func = func_repr(task["func"])
        running = current_attempt.get()  # a budget crossed here stops the enqueue itself
        parent = enqueue_parent.get() or (None if running is None else (running[0], ""))
        self.runaway.enqueued(tid, func, self.now(), parent)
        self.book.funcs[tid] = func
        self._last_enqueue = self.now()
        self.enqueue_log.append((tid, func))
        self.timeline.add(
            self.now(),
            "task.enqueued",
            task=tid,
            func=func,
            args=task.get("args"),
            kwargs=task.get("kwargs"),
            queue=task.get("cluster") or Conf.CLUSTER_NAME,
            group=task.get("group"),
        )

    def _on_broker(self, what: str, broker: Any, ack_id: Any) -> None:
        tid = self.book.acks.pop(ack_id, None)
        if tid is not None:
            self.timeline.add(
                self.now(),
                "task.acked" if what == "ack" else "task.discarded",
                task=tid,
                queue=broker.list_key,
            )

    def _on_log_finding(self, record: logging.LogRecord) -> None:
        detail = record.getMessage()
        if "create task from schedule" in detail:
            self.scheduler_errors += 1
        if record.exc_info and record.exc_info[1] is not None:
            detail += f": {record.exc_info[1].__class__.__name__}: {record.exc_info[1]}"
        self.add_finding("django-q error", detail=detail)

    def _lock_event(self, kind: str, **data: Any) -> None:
        self.timeline.add(self.now(), kind, **data)

    def _abort(self, data: dict[str, Any], reason: str) -> None:
        """End the run at this instant with a finding, as a verdict: a call that never
        returned (``watchdog``), work without virtual time passing (``runaway``). With
        ``strict`` (pytest's ``qsim``) the test fails with the same text; the scenario runner
        instead ends the run here and lets the checkers judge it."""
        from django.db import connection

        if connection.in_atomic_block and in_error(connection):
            connection.needs_rollback = True
        self.add_finding(reason, **data)
        self.stopped = self.findings[-1]
        self.timeline.add(
            self.now(), "run.stopped", reason=reason, stopped=data.get("stopped", reason)
        )
