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
scenario and the seed.

How the pieces map onto django-q2's processes, per cluster: ``pusher()`` is called with a pre-set
event (exactly one ``dequeue()`` batch of ``bulk``); the batch is held like the blocked pusher
holds it and moved into an in-memory queue of ``queue_limit``; ``worker()`` is called on one task
at a time by each of ``workers`` slots and executes the task *now*; the task's virtual duration
(:class:`Durations`) decides when its result reaches ``monitor()``. A task whose duration exceeds
its timeout is recorded the way django-q2 records a SIGALRM timeout (failed, "Task exceeded
maximum timeout value (N seconds)", not acked) at start + timeout — its code did run, which is
the dangerous case a checker should see. A task still running when ``retry`` expires is claimed
again by a free slot: the duplicate-execution class of bug, reproduced.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import queue
import random
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from harness.infra.affinity import Colocation, colocate
from harness.record.timeline import Timeline
from harness.sim.clock import DEFAULT_ENGINE, Engine, VirtualClock
from harness.sim.locks import LockModel
from harness.sim.network import NetworkGuard
from harness.sim.patches import CLUSTER_KNOBS, cluster_conf, current_attempt, install

EPS = timedelta(microseconds=1)
SCHEDULER_PERIOD = timedelta(seconds=30)  # Sentinel.guard: counter >= 30 → scheduler()


class SimulationError(AssertionError):
    """A run ended with a finding that must fail it (scheduler error, watchdog, …)."""


class TaskFailed(AssertionError):
    """Raised in the test when ``raise_task_errors`` is on and a task failed."""


class WatchdogExpired(BaseException):
    """Raised by SIGALRM inside a stuck call; BaseException so django-q2's handlers miss it."""


# -- configuration ----------------------------------------------------------------------------
@dataclass
class ClusterSpec:
    """One simulated qcluster; defaults mirror django-q2's own defaults."""

    name: str | None = None  # None → the project's cluster name (Conf.CLUSTER_NAME)
    workers: int = 1
    queue_limit: int | None = None  # None → workers ** 2 (django-q2's default)
    bulk: int = 1
    retry: int = 60
    timeout: int | None = None
    max_attempts: int = 0
    ack_failures: bool = False
    save_limit: int = 250
    catch_up: bool = True
    scheduler: bool = True
    phase: float = 0.0  # seconds after start of this cluster's guard grid
    downtime: list[tuple[datetime, datetime]] = field(default_factory=list)

    @classmethod
    def from_conf(cls, **overrides: Any) -> ClusterSpec:
        """The project's own Q_CLUSTER (as django-q2 parsed it), with overrides."""
        from django_q.conf import Conf

        values = dict(
            name=Conf.CLUSTER_NAME,
            workers=int(Conf.WORKERS or 1),
            queue_limit=Conf.QUEUE_LIMIT,
            bulk=int(Conf.BULK or 1),
            retry=int(Conf.RETRY),
            timeout=Conf.TIMEOUT,
            max_attempts=int(Conf.MAX_ATTEMPTS or 0),
            ack_failures=bool(Conf.ACK_FAILURES),
            save_limit=int(Conf.SAVE_LIMIT),
            catch_up=bool(Conf.CATCH_UP),
            scheduler=bool(Conf.SCHEDULER),
        )
        values.update(overrides)
        return cls(**values)

    @property
    def capacity(self) -> int:
        return self.queue_limit if self.queue_limit is not None else self.workers**2

    def conf(self) -> dict[str, Any]:
        values = dict(
            CLUSTER_NAME=self.name,
            RETRY=self.retry,
            BULK=self.bulk,
            MAX_ATTEMPTS=self.max_attempts,
            SAVE_LIMIT=self.save_limit,
            ACK_FAILURES=self.ack_failures,
            CATCH_UP=self.catch_up,
            TIMEOUT=self.timeout,
            QUEUE_LIMIT=self.queue_limit,
            WORKERS=self.workers,
        )
        assert set(values) == set(CLUSTER_KNOBS)
        return values


class Durations:
    """Virtual task durations: a default plus per-function constants or ``(lo, hi)`` ranges.

    Ranges are drawn from a generator seeded by (seed, task id, attempt), so a task's duration
    does not depend on what else ran before it.
    """

    def __init__(
        self,
        default: float = 0.0,
        per_func: dict[str, float | tuple[float, float] | Callable[..., float]] | None = None,
        seed: int = 0,
    ) -> None:
        self.default = default
        self.per_func = dict(per_func or {})
        self.seed = seed

    def __call__(self, func: str, task: dict[str, Any], attempt: int) -> float:
        spec = self.per_func.get(func, self.default)
        if callable(spec):
            return float(spec(task, attempt))
        if isinstance(spec, tuple):
            lo, hi = spec
            return random.Random(f"{self.seed}:{task['id']}:{attempt}").uniform(lo, hi)
        return float(spec)


# -- runtime state ----------------------------------------------------------------------------
class _Timer:
    """Stands in for the ``multiprocessing.Value`` a worker reports its state through."""

    value = -1.0

    def get_lock(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


class _Cluster:
    def __init__(self, spec: ClusterSpec, broker: Any, start: datetime) -> None:
        self.spec = spec
        self.broker = broker
        self.mem: deque[dict[str, Any]] = deque()  # the in-memory task queue (queue_limit)
        self.hold: deque[dict[str, Any]] = deque()  # a batch the pusher holds while blocked
        self.running: dict[str, int] = {}  # task id → attempt, while in a worker slot
        self.busy = 0
        self.free = list(range(spec.workers))  # worker slots (processes), lowest first
        self.up = True
        self.up_since = start
        self.last_pass: datetime | None = None
        self.dry: tuple[Any, ...] | None = None  # a pull found nothing visible in this state
        self.transitions: list[tuple[datetime, bool]] = sorted(
            [(a, False) for a, _ in spec.downtime] + [(b, True) for _, b in spec.downtime]
        )

    def grid_after(self, floor: datetime, strictly_after: datetime | None) -> datetime:
        """The first scheduler pass at or after ``floor`` and after ``strictly_after``."""
        base = self.up_since + timedelta(seconds=self.spec.phase)
        lower = floor
        if strictly_after is not None and strictly_after + EPS > lower:
            lower = strictly_after + EPS
        period = SCHEDULER_PERIOD // EPS  # whole microseconds: exact arithmetic
        gap = (lower - base) // EPS
        k = max(1, -(-gap // period))  # ceil
        return base + SCHEDULER_PERIOD * k


@dataclass
class _Completion:
    cluster: _Cluster
    result: dict[str, Any]
    attempt: int
    outcome: str  # ok | failed | timeout
    slot: int = 0  # the worker process that ran it


class _FindingCollector(logging.Handler):
    """Turns what django-q2 only logs (a failed scheduler pass, an unsaved result) into findings."""

    MARKERS = (
        "Could not create task from schedule",
        "failed to create a task from schedule",
        "Could not save task result",
        "Failed to push task to queue",
        "Failed to pull task from broker",
    )

    def __init__(self, sink: Callable[[logging.LogRecord], None]) -> None:
        super().__init__(level=logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if any(marker in message for marker in self.MARKERS):
            self.sink(record)


# -- the simulation ---------------------------------------------------------------------------
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
        broker: str = "orm",
        django_q_log_level: int | str | None = logging.WARNING,
        colocate: bool = True,
        lock_helpers: list[str] | tuple[str, ...] = (),
        network_guard: bool = True,
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
        self.broker_kind = broker
        self.django_q_log_level = django_q_log_level
        self.colocate = colocate
        self.colocation: Colocation | None = None  # set by open(): pinned CPU, or why not
        self.lock_helpers = tuple(lock_helpers)
        self.network_guard = network_guard
        self.locks: LockModel | None = None  # set by open() (harness.sim.locks)
        self.timeline = Timeline()
        self.findings: list[dict[str, Any]] = []
        self.clusters: list[_Cluster] = []
        self._completions: list[tuple[datetime, int, _Completion]] = []
        self._arrivals: list[tuple[datetime, int, Callable[[], Any]]] = []
        self._seq = itertools.count()
        self._attempts: dict[str, int] = {}
        self._acks: dict[Any, str] = {}  # OrmQ pk → task id
        self._func_of: dict[str, str] = {}
        self._scheduler_enqueues: list[dict[str, Any]] | None = None
        self._scheduler_errors = 0  # passes django-q2 logged as failed (rolled back)
        self._pending_failure: BaseException | None = None
        self.stopped: dict[str, Any] | None = None  # the watchdog finding that ended the run
        self._max_row_id: int | None = None  # drain(with_recursion=False)
        self._last_enqueue: datetime | None = None
        self._enqueues = 0  # every enqueue in this process (pre_enqueue), for _dry_key
        self._undo: list[Callable[[], None]] = []
        self.probes: list[Callable[[Simulation], None]] = []  # called after every step

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
        from dataclasses import replace

        from django_q.conf import Conf
        from django_q.signals import pre_enqueue

        from harness.sim import broker as brokers

        cls_name = "DeterministicRedis" if self.broker_kind == "redis" else "DeterministicORM"
        specs = [
            s if s.name else replace(s, name=Conf.CLUSTER_NAME)
            for s in (self._specs or [ClusterSpec.from_conf()])
        ]
        patches = install(self.seed, f"harness.sim.broker.{cls_name}")
        self._undo.append(patches.undo)
        self.clock.start()
        self._undo.append(self.clock.stop)
        if self.colocate:
            from django.db import connection

            self.colocation = colocate(connection, worker=os.environ.get("PYTEST_XDIST_WORKER"))
            self._undo.append(self.colocation.release)
        cls = getattr(brokers, cls_name)
        self.clusters = [
            _Cluster(s, cls(list_key=s.name, bulk=s.bulk, retry=s.retry), self.start) for s in specs
        ]
        if self.network_guard:
            guard = NetworkGuard(self.add_finding, self._func_of.get, allow=_broker_hosts())
            guard.install()
            self._undo.append(guard.uninstall)
        self.locks = LockModel(self.add_finding, self._lock_event)
        self.locks.func_of = self._func_of.get
        self._undo.append(self.locks.uninstall)
        self.locks.install(self.lock_helpers)
        brokers.DeterministicORM.observer = self._on_broker
        self._undo.append(lambda: setattr(brokers.DeterministicORM, "observer", None))
        uid = f"harness-{id(self)}"
        pre_enqueue.connect(self._on_enqueue, dispatch_uid=uid)
        self._undo.append(lambda: pre_enqueue.disconnect(dispatch_uid=uid))
        handler = _FindingCollector(self._on_log_finding)
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

        ``with_recursion=False`` leaves tasks that the drained tasks enqueue; ``with_scheduled``
        also waits for redeliveries of un-acked tasks and fires due schedules on the way.
        Returns counts of outcomes (``ok``, ``failed``, ``timeout``) of executions it caused.
        """
        from django.db.models import Max
        from django_q.models import OrmQ

        mark = len(self.timeline)
        limit = self.now() + horizon
        if not with_recursion:
            self._max_row_id = OrmQ.objects.aggregate(m=Max("id"))["m"] or 0
        try:
            while self._has_work(with_scheduled) and self._step(limit, schedules=with_scheduled):
                pass
        finally:
            self._max_row_id = None
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
        after-success executions of the same task): :meth:`harness.record.history.History.stats`."""
        from harness.record.history import History

        return History(self.timeline).stats()

    # -- the event loop ------------------------------------------------------------------------
    def _has_work(self, with_scheduled: bool) -> bool:
        if self._completions or any(c.mem or c.hold for c in self.clusters):
            return True
        if with_scheduled:
            return self._next_time(schedules=True)[0] is not None
        from django_q.models import OrmQ

        rows = OrmQ.objects.filter(key__in=self._keys(), lock__lte=self.now() + EPS)
        if self._max_row_id is not None:
            rows = rows.filter(id__lte=self._max_row_id)
        return rows.exists()

    def _keys(self) -> list[str]:
        return sorted({c.broker.list_key for c in self.clusters if c.up})

    def _probe(self) -> tuple[dict[int, datetime | None], datetime | None]:
        """One round trip: each cluster's earliest due schedule and the next OrmQ visibility.

        Raw SQL on purpose: this runs once per step, and the ORM's query compilation cost
        more than the query itself.
        """
        from django.db import connection
        from django_q.conf import Conf
        from django_q.models import OrmQ, Schedule

        q = connection.ops.quote_name
        sched, ormq = q(Schedule._meta.db_table), q(OrmQ._meta.db_table)
        parts: list[str] = []
        params: list[Any] = []
        ids: list[int] = []
        for i, c in enumerate(self.clusters):
            if not (c.up and c.spec.scheduler):
                continue
            mine = "cluster = %s" + (" OR cluster IS NULL" if c.spec.name == Conf.PREFIX else "")
            parts.append(f"(SELECT min(next_run) FROM {sched} WHERE repeats <> 0 AND ({mine}))")
            params.append(c.spec.name)
            ids.append(i)
        keys = sorted({c.broker.list_key for c in self.clusters if c.up and not c.hold})
        want_rows = self.broker_kind == "orm" and bool(keys)
        if want_rows:
            cap = " AND id <= %s" if self._max_row_id is not None else ""
            # Visible rows a free pusher has not claimed yet count too (a drain cap was lifted).
            parts.append(f"(SELECT min(lock) FROM {ormq} WHERE key = ANY(%s){cap})")
            params.append(keys)
            if cap:
                params.append(self._max_row_id)
        if not parts:
            return {}, None
        with connection.cursor() as cur:
            cur.execute("SELECT " + ", ".join(parts), params)
            row = cur.fetchone()
        schedules = dict(zip(ids, row[: len(ids)], strict=True))
        lock = row[-1] if want_rows else None
        return schedules, lock

    def _next_time(self, schedules: bool = True) -> tuple[datetime | None, dict[int, datetime]]:
        """The next instant something can happen, and the scheduler passes due by then."""
        now = self.now()
        candidates: list[datetime] = []
        if self._completions:
            candidates.append(self._completions[0][0])
        if self._arrivals:
            candidates.append(self._arrivals[0][0])
        for c in self.clusters:
            if c.transitions:
                candidates.append(c.transitions[0][0])
        earliest, lock = self._probe()
        passes: dict[int, datetime] = {}
        if schedules:
            for i, due in earliest.items():
                if due is not None:
                    c = self.clusters[i]
                    # A pass at t fires rows with next_run < t (strict): it must come after due.
                    passes[i] = c.grid_after(max(now, due + EPS), c.last_pass)
            candidates.extend(passes.values())
        if lock is not None:
            candidates.append(lock + EPS)
        elif self.broker_kind == "redis" and any(
            c.up and not c.hold and c.broker.queue_size() for c in self.clusters
        ):
            candidates.append(now + EPS)
        if not candidates:
            return None, passes
        return max(min(candidates), now), passes

    def _step(self, limit: datetime, schedules: bool = True) -> bool:
        if self.stopped is not None:
            return False  # a call never returned: the run ends at that instant
        t, passes = self._next_time(schedules)
        if t is None or t > limit:
            return False
        self.clock.move_to(t)
        try:
            self._instant([i for i, when in passes.items() if when <= t])
        except WatchdogExpired as exc:
            self._abort_watchdog(exc)
        for probe in self.probes:
            probe(self)
        self._raise_pending()
        return True

    def _instant(self, passes: list[int]) -> None:
        now = self.now()
        for c in self.clusters:
            c.dry = None  # the first pull of every step runs: the probe saw something visible
            while c.transitions and c.transitions[0][0] <= now:
                _, up = c.transitions.pop(0)
                self._set_up(c, up)
        while self._completions and self._completions[0][0] <= now:
            _, _, done = heapq.heappop(self._completions)
            self._complete(done)
        while self._arrivals and self._arrivals[0][0] <= now:
            _, _, fn = heapq.heappop(self._arrivals)
            with self._guard_db():
                fn()
        for i in passes:
            if self.clusters[i].up:
                self._scheduler_pass(self.clusters[i])
        if self._last_enqueue == now:  # rows enqueued at `now` are visible from now + 1 µs
            self.clock.move_to(now + EPS)
        for c in self.clusters:
            if c.up:
                self._pump(c)
        # Zero-duration work finishes at this same instant: save it and refill the freed slots
        # now instead of in another step (one probe query less per task; same order of events).
        while self._completions and self._completions[0][0] <= self.now():
            _, _, done = heapq.heappop(self._completions)
            self._complete(done)
            if done.cluster.up:
                self._pump(done.cluster)

    # -- cluster processes -------------------------------------------------------------------
    def _set_up(self, c: _Cluster, up: bool) -> None:
        now = self.now()
        if up and not c.up:
            c.up, c.up_since, c.last_pass = True, now, None
            self.timeline.add(now, "cluster.up", cluster=c.spec.name)
        elif not up and c.up:
            c.up = False
            kept = []
            for item in self._completions:
                done = item[2]
                if done.cluster is c:
                    res = done.result
                    if self.locks is not None:
                        self.locks.kill((res["id"], done.attempt))
                    self.timeline.add(
                        now,
                        "task.killed",
                        task=res["id"],
                        func=self._func_of.get(res["id"]),
                        cluster=c.spec.name,
                        attempt=done.attempt,
                    )
                else:
                    kept.append(item)
            heapq.heapify(kept)
            self._completions = kept
            c.mem.clear()
            c.hold.clear()
            c.running.clear()
            c.busy = 0
            c.free = list(range(c.spec.workers))
            self.timeline.add(now, "cluster.down", cluster=c.spec.name)

    def _scheduler_pass(self, c: _Cluster) -> None:
        """One ``scheduler()`` call. django-q2 runs the pass in one transaction: if it fails
        (an error it logs, or the watchdog stopping it) every enqueue it made is rolled back
        with it, and the timeline says so (``task.rolledback``) instead of ``schedule.fired``."""
        from django_q.scheduler import scheduler

        now = self.now()
        c.last_pass = now
        due = self._due_schedules(c, now)
        errors = self._scheduler_errors
        self._scheduler_enqueues = []
        completed = False
        try:
            with (
                cluster_conf(c.spec.conf()),
                self._guard_db(),
                self._process(("sentinel", c.spec.name)),
                self._watchdog("scheduler pass", cluster=c.spec.name),
            ):
                scheduler(broker=c.broker)
            completed = self._scheduler_errors == errors
        finally:
            fired, self._scheduler_enqueues = self._scheduler_enqueues, None
            if not completed:
                self._rolled_back(fired, c)
        if not completed:
            return
        pending = list(fired)
        for row in due:
            match = next((e for e in pending if e["func"] == row["func"]), None)
            if match is None:
                continue
            pending.remove(match)
            self.timeline.add(
                now,
                "schedule.fired",
                schedule=row["name"] or f"#{row['id']}",
                func=row["func"],
                task=match["task"],
                slot=row["next_run"],
                cluster=c.spec.name,
            )

    def _rolled_back(self, fired: list[dict[str, Any]], c: _Cluster) -> None:
        """Enqueues of a failed scheduler pass: gone with its transaction (ORM broker only;
        Redis is outside the transaction, so there they stay: django-q2's duplicates)."""
        if self.broker_kind != "orm":
            return
        for item in fired:
            self.timeline.add(self.now(), "task.rolledback", task=item["task"], cluster=c.spec.name)

    def _due_schedules(self, c: _Cluster, now: datetime) -> list[dict[str, Any]]:
        """The rows the coming pass will fire, in its order (raw SQL: this runs every pass)."""
        from django.db import connection
        from django_q.conf import Conf
        from django_q.models import Schedule

        table = connection.ops.quote_name(Schedule._meta.db_table)
        mine = "cluster = %s" + (" OR cluster IS NULL" if c.spec.name == Conf.PREFIX else "")
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT name, id, func, next_run FROM {table} WHERE repeats <> 0 "
                f"AND next_run < %s AND ({mine}) ORDER BY next_run, id",
                [now, c.spec.name],
            )
            return [
                dict(zip(("name", "id", "func", "next_run"), row, strict=True))
                for row in cur.fetchall()
            ]

    def _pump(self, c: _Cluster) -> None:
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
                self._start(c, c.mem.popleft())
                progressed = True
            if c.hold or exhausted:
                if progressed:
                    continue
                return  # blocked on a full queue, or idle
            if c.dry == self._dry_key():
                return  # a pull found nothing at this instant and nothing was enqueued since
            batch = self._pull(c)
            c.hold.extend(batch)
            exhausted = len(batch) < (c.spec.bulk if self.broker_kind == "orm" else 1)
            if exhausted:
                c.dry = self._dry_key()

    def _dry_key(self) -> tuple[Any, ...]:
        """Within one step, rows become visible only by an enqueue (time and the drain cap
        stand still), so a later pull in the same state would be an empty round trip."""
        return (self.now(), self._enqueues, self._max_row_id)

    def _pull(self, c: _Cluster) -> list[dict[str, Any]]:
        from django_q.pusher import pusher

        event = threading.Event()
        event.set()  # exactly one dequeue() batch, then return
        tq: queue.Queue[Any] = queue.Queue()
        c.broker.max_id = self._max_row_id
        with cluster_conf(c.spec.conf()), self._guard_db():
            pusher(tq, event, c.broker)
        now = self.now()
        batch = []
        while not tq.empty():
            task = tq.get_nowait()
            tid = task["id"]
            self._func_of.setdefault(tid, _func_repr(task["func"]))
            if task.get("ack_id") is not None:
                self._acks[task["ack_id"]] = tid
            self.timeline.add(
                now,
                "task.claimed",
                task=tid,
                func=self._func_of[tid],
                cluster=c.spec.name,
                redelivery=tid in self._attempts,
                lock_until=now + timedelta(seconds=c.spec.retry)
                if self.broker_kind == "orm"
                else None,
            )
            batch.append(task)
        return batch

    def _start(self, c: _Cluster, task: dict[str, Any]) -> None:
        from django_q.worker import worker

        now = self.now()
        tid = task["id"]
        func = self._func_of.setdefault(tid, _func_repr(task["func"]))
        attempt = self._attempts[tid] = self._attempts.get(tid, 0) + 1
        timeout = task.pop("timeout", None)
        if timeout is None:
            timeout = c.spec.timeout
        if timeout is not None and timeout < 0:
            timeout = None
        duration = self.durations(func, task, attempt)
        self.timeline.add(
            now,
            "task.started",
            task=tid,
            func=func,
            cluster=c.spec.name,
            attempt=attempt,
            timeout=timeout,
        )
        c.busy += 1
        slot = heapq.heappop(c.free)
        c.running[tid] = attempt
        tq: queue.Queue[Any] = queue.Queue()
        rq: queue.Queue[Any] = queue.Queue()
        tq.put(task)
        tq.put("STOP")
        token = current_attempt.set((tid, attempt))
        try:
            with (
                cluster_conf(c.spec.conf()),
                self._guard_db(),
                self._process(("worker", c.spec.name, str(slot))),
                self._watchdog("task", task=tid, func=func, attempt=attempt),
            ):
                worker(tq, rq, _Timer(), timeout=None)  # no SIGALRM: timeouts are virtual
        finally:
            current_attempt.reset(token)
        result = rq.get_nowait()
        outcome = "ok" if result["success"] else "failed"
        finish = now + timedelta(seconds=duration)
        if timeout is not None and duration > timeout:
            outcome = "timeout"
            finish = now + timedelta(seconds=timeout)
            result["success"] = False
            result["result"] = (
                f"Task exceeded maximum timeout value ({timeout} seconds) : "
                f"virtual duration {duration:g} s (dq-harness)"
            )
        result["stopped"] = finish
        heapq.heappush(
            self._completions,
            (finish, next(self._seq), _Completion(c, result, attempt, outcome, slot)),
        )

    def _complete(self, done: _Completion) -> None:
        from django_q.monitor import monitor

        c, res = done.cluster, done.result
        tid = res["id"]
        error = None if done.outcome == "ok" else _first_line(res.get("result"))
        self.timeline.add(
            self.now(),
            "task.finished",
            task=tid,
            func=self._func_of.get(tid),
            cluster=c.spec.name,
            attempt=done.attempt,
            outcome=done.outcome,
            error=error,
        )
        rq: queue.Queue[Any] = queue.Queue()
        rq.put(res)
        rq.put("STOP")
        if self.locks is not None:  # the body's releases happen at its virtual end
            self.locks.finish((tid, done.attempt), ("worker", c.spec.name, str(done.slot)))
        with cluster_conf(c.spec.conf()), self._guard_db(), self._process(("monitor", c.spec.name)):
            monitor(rq, c.broker)
        c.busy -= 1
        heapq.heappush(c.free, done.slot)
        if c.running.get(tid) == done.attempt:
            del c.running[tid]
        if self.raise_task_errors and done.outcome != "ok" and self._pending_failure is None:
            self._pending_failure = TaskFailed(
                f"{self._func_of.get(tid)} (task {tid}, attempt {done.attempt}) {done.outcome} "
                f"at {self.now().isoformat()}: {res.get('result')}"
            )

    # -- observers -----------------------------------------------------------------------------
    def _on_enqueue(self, sender: Any, task: dict[str, Any], **_: Any) -> None:
        from django_q.conf import Conf

        tid = task["id"]
        func = _func_repr(task["func"])
        self._func_of[tid] = func
        self._last_enqueue = self.now()
        self._enqueues += 1
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
        if self._scheduler_enqueues is not None:
            self._scheduler_enqueues.append({"task": tid, "func": func})

    def _on_broker(self, what: str, broker: Any, ack_id: Any) -> None:
        tid = self._acks.pop(ack_id, None)
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
            self._scheduler_errors += 1
        if record.exc_info and record.exc_info[1] is not None:
            detail += f": {record.exc_info[1].__class__.__name__}: {record.exc_info[1]}"
        self.add_finding("django-q error", detail=detail)

    def add_finding(self, finding: str, **data: Any) -> None:
        item = {"finding": finding, "at": self.now().isoformat(), **data}
        self.findings.append(item)
        self.timeline.add(self.now(), "finding", finding=finding, **data)
        if self.strict and self._pending_failure is None:
            from harness.record.findings import describe

            self._pending_failure = SimulationError(describe(item, _project_zone()))

    def adopt_queued(self, during: str) -> int:
        """Take over broker rows that exist before the run (a data migration enqueued them).

        They are recorded as ``task.enqueued`` (with ``during``) so the checkers follow them,
        and a row locked beyond now (its lock was set by the real clock at ``migrate``) becomes
        visible now, as it would be to a cluster started right after that migrate. Returns how
        many rows were adopted.
        """
        from django_q.conf import Conf
        from django_q.models import OrmQ

        if self.broker_kind != "orm":
            return 0
        now = self.now()
        adopted = 0
        for row in OrmQ.objects.order_by("id"):
            try:
                task = row.task  # a cached_property: the signed payload, decoded
            except Exception as exc:  # unreadable: the pusher would discard it too
                self.add_finding("unreadable queued task", row=row.pk, error=str(exc)[:200])
                continue
            tid, func = task["id"], _func_repr(task["func"])
            self._func_of[tid] = func
            self.timeline.add(
                now,
                "task.enqueued",
                task=tid,
                func=func,
                args=task.get("args"),
                kwargs=task.get("kwargs"),
                queue=row.key or Conf.CLUSTER_NAME,
                group=task.get("group"),
                during=during,
            )
            if row.lock is None or row.lock > now:
                OrmQ.objects.filter(pk=row.pk).update(lock=now)
            adopted += 1
        if adopted:
            self._last_enqueue = now
            self._enqueues += 1
        return adopted

    def observe_ledger(self, ledger: Any) -> None:
        """Copy every call a fake records into the timeline as ``http.call``."""

        def on_entry(entry: Any) -> None:
            self.timeline.add(
                self.now(),
                "http.call",
                fake=entry.fake,
                operation=entry.operation,
                key=entry.business_key,
                status=entry.status,
                effect=entry.effect,
                fault=entry.fault,
                task=entry.task_id,
                attempt=entry.attempt,
            )

        ledger.subscribe(on_entry)

    def _raise_pending(self) -> None:
        if self._pending_failure is not None:
            exc, self._pending_failure = self._pending_failure, None
            raise exc

    def _process(self, proc: tuple[str, ...]) -> Any:
        """Run a call as one of a real cluster's processes (its own in-memory caches)."""
        if self.locks is None:
            return contextlib.nullcontext()
        return self.locks.process(proc)

    def _lock_event(self, kind: str, **data: Any) -> None:
        self.timeline.add(self.now(), kind, **data)

    # -- guards --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _guard_db(self) -> Iterator[None]:
        """Inside a test transaction, a failed SQL statement in a task would poison every later
        query; a savepoint confines it, as autocommit confines it in a real worker."""
        from django.db import connection, transaction

        if not connection.in_atomic_block:
            yield
            return
        sid = transaction.savepoint()
        try:
            yield
        finally:
            if _in_error(connection):
                transaction.savepoint_rollback(sid)
            else:
                transaction.savepoint_commit(sid)

    @contextlib.contextmanager
    def _watchdog(self, what: str, **context: Any) -> Iterator[None]:
        """Stop a call that never returns after ``watchdog_seconds`` of wall-clock time."""
        budget = self.watchdog_seconds
        if not budget or threading.current_thread() is not threading.main_thread():
            yield
            return

        armed = [True]

        def expire(signum: int, frame: Any) -> None:
            if armed[0]:
                raise WatchdogExpired(what, context, budget)

        previous = signal.signal(signal.SIGALRM, expire)
        # Repeats every 0.5 s after the budget: an exception raised while Python runs a
        # finalizer or a GC callback is printed and dropped ("Exception ignored in ..."), so
        # one signal is not enough to stop a loop that allocates.
        signal.setitimer(signal.ITIMER_REAL, budget, 0.5)
        try:
            yield
        finally:
            armed[0] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def _abort_watchdog(self, exc: WatchdogExpired) -> None:
        """A call that never returned ends the run at this instant, as a verdict.

        The finding names the stopped call and, for a scheduler pass, the schedule whose
        next-run computation was running (read from django-q2's own frame). With ``strict``
        (pytest's ``qsim``) the test fails with the same text; the scenario runner instead ends
        the run here and lets the checkers judge it."""
        what, context, budget = exc.args
        frames = traceback.extract_tb(exc.__traceback__)[-4:]
        stack = " | ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in frames)
        from django.db import connection

        if connection.in_atomic_block and _in_error(connection):
            connection.needs_rollback = True
        extra: dict[str, Any] = {}
        schedule = _schedule_in(exc.__traceback__)
        if schedule is not None:
            extra["schedule"] = schedule
        self.add_finding(
            "watchdog", stopped=what, budget_seconds=budget, stack=stack, **context, **extra
        )
        self.stopped = self.findings[-1]
        self.timeline.add(self.now(), "run.stopped", reason="watchdog", stopped=what)


def _broker_hosts() -> list[str]:
    """Hosts the guard lets through: the project's Redis broker, wherever it runs."""
    from urllib.parse import urlsplit

    from django_q.conf import Conf

    redis = getattr(Conf, "REDIS", None)
    if isinstance(redis, str):
        return [urlsplit(redis).hostname or ""]
    if isinstance(redis, dict):
        return [str(redis.get("host", ""))]
    return []


def _project_zone() -> Any:
    """The zone django-q2 computes local times in (``Conf.TIME_ZONE``), for messages."""
    from zoneinfo import ZoneInfo

    from django_q.conf import Conf

    try:
        return ZoneInfo(Conf.TIME_ZONE or "UTC")
    except Exception:
        return ZoneInfo("UTC")


def _schedule_in(tb: Any) -> dict[str, Any] | None:
    """The Schedule row django-q2's ``scheduler()`` was processing when ``tb`` was raised."""
    from django_q.conf import Conf

    found = None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "scheduler" and frame.f_globals.get("__name__") == (
            "django_q.scheduler"
        ):
            found = frame.f_locals.get("s")
        tb = tb.tb_next
    if found is None:
        return None
    out = {
        "name": found.name or f"#{found.pk}",
        "func": found.func,
        "type": found.schedule_type,
        "cron": found.cron,
        "minutes": found.minutes,
        "next_run": found.next_run,
        "catch_up": bool(Conf.CATCH_UP),
    }
    why = _why_cron_loops(found.cron) if found.schedule_type == "C" and found.cron else None
    if why:
        out["why"] = why
    return out


def _why_cron_loops(cron: str) -> str | None:
    """Explain django-q2's endless catch-up loop for a CRON row, when that is the cause.

    The loop ends when ``calculate_next_run() > localtime()``. Both sides are aware datetimes of
    the same ``ZoneInfo``, and Python compares those by wall clock, ignoring the fold: in a
    repeated hour croniter's answer can be later in absolute time yet earlier on the wall.
    """
    try:
        from croniter import croniter
        from django_q.utils import localtime

        now = localtime()
        answer = croniter(cron, now).get_next(datetime)
    except Exception:
        return None
    if answer.astimezone(UTC) > now.astimezone(UTC) and not answer > now:
        return (
            f"croniter answers {answer:%H:%M %Z}, after now ({now:%H:%M:%S %Z}) in absolute "
            "time, but django-q2 compares the two in one zone, where Python compares wall "
            f"clocks ({answer:%H:%M} is not after {now:%H:%M:%S}), so the loop never ends; a "
            f"real cluster spins until the clock reaches {answer:%H:%M %Z}"
        )
    return None


def _in_error(connection: Any) -> bool:
    raw = getattr(connection, "connection", None)
    if raw is None:
        return False
    import psycopg

    return raw.info.transaction_status == psycopg.pq.TransactionStatus.INERROR


def _func_repr(func: Any) -> str:
    from django_q.utils import get_func_repr

    return get_func_repr(func)


def _first_line(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text.splitlines()[0][:300] if text else text
