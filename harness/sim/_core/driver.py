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
:mod:`harness.sim._core.processes`; a task still running when ``retry`` expires is claimed again
by a free slot: the duplicate-execution class of bug, reproduced.

The :class:`Driver` owns the run's state (event queues, task book, dry-pull state, the broker's
strategy, timeline, findings); the facade, :class:`harness.sim.simulation.Simulation`, gives the
user's verbs over it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from harness.brokers import BrokerKind
from harness.infra.affinity import Colocation, colocate
from harness.record.timeline import (
    FINDING,
    RUN_STOPPED,
    TASK_ACKED,
    TASK_DISCARDED,
    TASK_ENQUEUED,
    Event,
    Timeline,
)
from harness.sim import accelerate
from harness.sim._core.agenda import Agenda
from harness.sim._core.dry import DryPulls
from harness.sim._core.lookahead import Lookahead, next_time
from harness.sim._core.mirror import BrokerMirror, TableWatch
from harness.sim._core.processes import Processes
from harness.sim._core.recorder import TaskBook, adopt_queued, func_repr
from harness.sim._core.services import Services
from harness.sim.clock import VirtualClock
from harness.sim.cluster import EPS, ClusterSpec, ClusterState, Durations
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
from harness.sim.network import NetworkGuard
from harness.sim.patches import current_attempt, install
from harness.sim.runaway import RunawayBudget, RunawayGuard, RunawayStop, enqueue_parent
from harness.sim.scopes import CallObserver


@dataclass(frozen=True)
class Options:
    """What the driver is asked to run with (the facade's constructor keywords)."""

    start: datetime
    specs: list[ClusterSpec] | None
    seed: int
    durations: Durations
    kind: BrokerKind
    watchdog_seconds: float | None
    raise_task_errors: bool
    strict: bool
    django_q_log_level: int | str | None
    colocate: bool
    lock_helpers: tuple[str, ...]
    network_guard: bool
    faithful: bool
    runaway: RunawayBudget | None


def _mirrorable() -> bool:
    """Whether django-q2's tables can be mirrored: every write to them on the run's connection,
    outside a test transaction (where nothing ever commits, so nothing could be confirmed)."""
    from django.db import DEFAULT_DB_ALIAS, connection, router
    from django_q.conf import Conf
    from django_q.models import OrmQ, Schedule, Task

    aliases = {Conf.ORM or DEFAULT_DB_ALIAS} | {
        router.db_for_write(m) or DEFAULT_DB_ALIAS for m in (OrmQ, Schedule, Task)
    }
    return aliases == {DEFAULT_DB_ALIAS} and not connection.in_atomic_block


@dataclass(frozen=True)
class Failure:
    """What must fail the caller once the step ends: a finding under ``strict``, or a failed
    task under ``raise_task_errors`` (``task``). The facade raises it as its own exception."""

    message: str
    task: bool = False


class Driver:
    """One simulated deployment's run: its state, its wiring into django-q2, its step loop."""

    def __init__(self, options: Options, clock: VirtualClock) -> None:
        self.options = options
        self.kind = options.kind
        self.clock = clock
        self.timeline = Timeline()
        self.findings: list[dict[str, Any]] = []
        self.clusters: list[ClusterState] = []
        self.book = TaskBook()
        self.agenda = Agenda()
        self.dry = DryPulls(clock.now)
        self.runaway = RunawayGuard(options.runaway)
        self.after_task: list[Callable[[str, str, int], None]] = []  # (func, task, attempt)
        self.stopped: dict[str, Any] | None = None  # the finding that ended the run (watchdog…)
        self.pending: Failure | None = None
        self.colocation: Colocation | None = None  # set by open(): pinned CPU, or why not
        self.guard: NetworkGuard | None = None  # set by open() when the network guard is on
        self.accelerations: accelerate.SaveTaskAccelerations | None = None  # off: faithful
        self.mirror: BrokerMirror | None = None  # None: the look-ahead asks the database
        self.locks: LockModel | None = None  # set by open() (harness.sim.locks)
        self.calls: CallObserver | None = None  # set by open(): sleeps, logs (harness.sim.scopes)
        self.processes: Processes | None = None  # set by open()
        self._undo: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return self.clock.now()

    def record(self, kind: str, **data: Any) -> Event:
        """An event at the current virtual instant."""
        return self.timeline.add(self.clock.now(), kind, **data)

    # -- lifecycle ----------------------------------------------------------------------------
    def open(self) -> None:
        """Install the patches, start the clock, connect the observers (undone by close)."""
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        from django.utils.module_loading import import_string
        from django_q.conf import Conf

        o = self.options
        specs = [
            s if s.name else replace(s, name=Conf.CLUSTER_NAME)
            for s in (o.specs or [ClusterSpec.from_conf()])
        ]
        patches = install(o.seed, self.kind.broker_class)
        self._undo.append(patches.undo)
        if not o.faithful:
            mirrored = _mirrorable()
            self.accelerations = accelerate.install(patches, keep_counts=mirrored)
            if mirrored:
                self._mirror(patches, self.accelerations)
        self.clock.start()
        self._undo.append(self.clock.stop)
        self.calls = CallObserver(self.clock.view)
        self.calls.install()
        self._undo.append(self.calls.uninstall)
        if o.colocate:
            from django.db import connection

            self.colocation = colocate(connection, worker=os.environ.get("PYTEST_XDIST_WORKER"))
            self._undo.append(self.colocation.release)
        cls = import_string(self.kind.broker_class)  # harness.sim.broker's, for this broker
        for s in specs:
            broker = cls(list_key=s.name, bulk=s.bulk, retry=s.retry)
            broker.observer = self._on_broker
            self.clusters.append(ClusterState(s, broker, o.start))
        if o.network_guard:
            guard = NetworkGuard(self.add_finding, self.book.func, allow=broker_hosts())
            guard.install()
            self._undo.append(guard.uninstall)
            self.guard = guard
        self.locks = LockModel(self.add_finding, self.record)
        self.locks.func_of = self.book.func
        self._undo.append(self.locks.uninstall)
        self.locks.install(o.lock_helpers)
        self._observe_django_q()
        self.processes = Processes(self._services(self.calls))

    def _mirror(self, patches: Any, accelerations: accelerate.SaveTaskAccelerations) -> None:
        """The broker and the schedules, known without asking (harness.sim._core.mirror)."""
        from harness.sim.broker import DeterministicORM

        mirror = BrokerMirror()
        patches.set(DeterministicORM, "journal", mirror, "the broker reports its rows")
        counts = accelerations.counts
        watch = TableWatch(
            mirror,
            counts.forget if counts is not None else None,
            lambda: counts is not None and counts.deleting,
        )
        watch.install()
        self._undo.append(watch.uninstall)
        self.mirror = mirror

    def _services(self, calls: CallObserver) -> Services:
        """What the processes get of the run (harness.sim._core.services)."""
        o = self.options
        return Services(
            kind=self.kind,
            book=self.book,
            agenda=self.agenda,
            dry=self.dry,
            durations=o.durations,
            runaway=self.runaway,
            calls=calls,
            locks=self.locks,
            watchdog_seconds=o.watchdog_seconds,
            after_task=self.after_task,
            now=self.now,
            record=self.record,
            add_finding=self.add_finding,
            task_failed=self.task_failed,
        )

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
        if self.options.django_q_log_level is not None:
            # django-q2 logs several INFO lines per task; at simulation speed that is noise
            # (and time). Findings only need ERROR records, which still arrive.
            level = qlog.level
            qlog.setLevel(self.options.django_q_log_level)
            self._undo.append(lambda: qlog.setLevel(level))

    def close(self) -> None:
        while self._undo:
            self._undo.pop()()

    # -- what the run records ------------------------------------------------------------------
    def add_finding(self, finding: str, **data: Any) -> None:
        """Record something that must fail the run (under ``strict``: fail it now)."""
        item = {"finding": finding, "at": self.now().isoformat(), **data}
        self.findings.append(item)
        self.timeline.add(self.now(), FINDING, finding=finding, **data)
        if self.options.strict and self.pending is None:
            from harness.record.findings import describe

            self.pending = Failure(describe(item, project_zone()))

    def task_failed(self, tid: str, attempt: int, outcome: str, result: Any) -> None:
        if self.options.raise_task_errors and self.pending is None:
            self.pending = Failure(
                f"{self.book.func(tid)} (task {tid}, attempt {attempt}) {outcome} "
                f"at {self.now().isoformat()}: {result}",
                task=True,
            )

    def adopt_queued(self, during: str) -> int:
        """Take over broker rows that exist before the run (see :func:`~harness.sim._core.
        recorder.adopt_queued`); returns how many."""
        now = self.now()
        rows = adopt_queued(self.kind, now, self.book, self.record, self.add_finding, during)
        if rows:
            self.dry.became_visible(rows)  # rows became visible: a pull in this state is not dry
        return rows

    def take_failure(self) -> Failure | None:
        """What must fail the caller now (None: nothing), forgotten once taken."""
        failure, self.pending = self.pending, None
        return failure

    # -- the event loop ------------------------------------------------------------------------
    def lookahead(self, schedules: bool, cap: int | None) -> Lookahead:
        queued = (self.agenda.next_completion(), self.agenda.next_arrival())
        return next_time(self.clusters, self.kind, self.now(), queued, schedules, cap, self.mirror)

    def has_work(self, with_scheduled: bool, cap: int | None) -> bool:
        if self.agenda.running or any(c.mem or c.hold for c in self.clusters):
            return True
        if with_scheduled:
            return self.lookahead(True, cap).at is not None
        from django_q.models import OrmQ

        keys = sorted({c.broker.list_key for c in self.clusters if c.up})
        rows = OrmQ.objects.filter(key__in=keys, lock__lte=self.now() + EPS)
        if cap is not None:
            rows = rows.filter(id__lte=cap)
        return rows.exists()

    def step(self, limit: datetime, schedules: bool = True, cap: int | None = None) -> bool:
        """Move to the next instant at or before ``limit`` and do all that happens there;
        False (nothing done) when the run has stopped or nothing can happen by ``limit``."""
        if self.stopped is not None:
            return False  # a call never returned: the run ends at that instant
        ahead = self.lookahead(schedules, cap)
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
        return True

    def _instant(self, passes: list[int], cap: int | None, ahead: Lookahead) -> None:
        now, run = self.now(), self.processes
        if run is None:
            raise RuntimeError("the simulation is not open: use it in a with block, or open()")
        self.dry.begin(self.clusters, ahead, cap)
        for c in self.clusters:
            while c.transitions and c.transitions[0][0] <= now:
                _, up = c.transitions.pop(0)
                run.set_up(c, up)
        while (done := self.agenda.completion_due(now)) is not None:
            run.complete(done)
        while (arrival := self.agenda.arrival_due(now)) is not None:
            with guard_db():
                arrival()
        for i in passes:
            if self.clusters[i].up:
                run.scheduler_pass(self.clusters[i])
        if self.dry.last_enqueue == now:  # rows enqueued at `now` are visible from now + 1 µs
            self.clock.move_to(now + EPS)
        for c in self.clusters:
            if c.up:
                run.pump(c, cap)
        # Zero-duration work finishes at this same instant: save it and refill the freed slots
        # now instead of in another step (one probe query less per task; same order of events).
        while (done := self.agenda.completion_due(self.now())) is not None:
            run.complete(done)
            if done.cluster.up:
                run.pump(done.cluster, cap)

    # -- observers -----------------------------------------------------------------------------
    def _on_enqueue(self, sender: Any, task: dict[str, Any], **_: Any) -> None:
        from django_q.conf import Conf

        tid = task["id"]
        func = func_repr(task["func"])
        running = current_attempt.get()  # a budget crossed here stops the enqueue itself
        parent = enqueue_parent.get() or (None if running is None else (running[0], ""))
        self.runaway.enqueued(tid, func, self.now(), parent)
        self.book.funcs[tid] = func
        self.dry.enqueued()
        self.book.enqueues.append((tid, func))
        self.record(
            TASK_ENQUEUED,
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
            self.record(
                TASK_ACKED if what == "ack" else TASK_DISCARDED,
                task=tid,
                queue=broker.list_key,
            )

    def _on_log_finding(self, record: logging.LogRecord) -> None:
        """An error django-q2 only logged. (Whether it was a scheduler pass failing, and its
        enqueues rolled back, the pass tells for itself: harness.sim._core.processes.)"""
        detail = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            detail += f": {record.exc_info[1].__class__.__name__}: {record.exc_info[1]}"
        self.add_finding("django-q error", detail=detail)

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
        self.record(RUN_STOPPED, reason=reason, stopped=data.get("stopped", reason))
