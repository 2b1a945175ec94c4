"""The simulation as its user drives it: open, advance, run until, drain, assert, read.

:class:`Simulation` is a facade. What it runs — django-q2's own scheduler, pusher, worker and
monitor under a virtual clock, one instant at a time — is the private driver's
(:mod:`harness.sim._core`), which owns the event queues, the task book, the dry-pull state and
the broker's strategy. This module keeps the user's verbs, the options, and the exceptions a
test sees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from harness.brokers import DEFAULT, broker_kind
from harness.errors import HarnessError
from harness.infra.affinity import Colocation
from harness.record.timeline import TASK_FINISHED, Timeline
from harness.sim._core.driver import Driver, Options
from harness.sim.clock import DEFAULT_ENGINE, Engine, VirtualClock
from harness.sim.cluster import ClusterSpec, ClusterState, Durations
from harness.sim.locks import LockModel
from harness.sim.network import NetworkGuard
from harness.sim.runaway import RunawayBudget
from harness.sim.scopes import CallObserver
from harness.spellings import deprecated, renamed_keywords

__all__ = ["ClusterSpec", "Durations", "Simulation", "SimulationError", "TaskFailed"]


class SimulationError(HarnessError, AssertionError):
    """A run ended with a finding that must fail it (scheduler error, watchdog, …)."""


class TaskFailed(SimulationError):
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
        watchdog: float | None = 10.0,
        raise_task_errors: bool = False,
        strict: bool = True,
        broker: str = DEFAULT.name,
        django_q_log_level: int | str | None = logging.WARNING,
        colocate: bool = True,
        lock_helpers: list[str] | tuple[str, ...] = (),
        network_guard: bool = True,
        faithful: bool = False,
        runaway: RunawayBudget | None = None,
        **renamed: Any,
    ) -> None:
        if renamed:  # old spellings, read for one release (harness.spellings)
            watchdog = renamed_keywords("Simulation", renamed).get("watchdog", watchdog)
        # UTC on purpose: the scheduler grid is start + 30 s·k, and aware arithmetic on a
        # ZoneInfo datetime is wall-clock arithmetic (it would shift the grid by an hour at a
        # DST change and replay a past pass forever).
        self.clock = VirtualClock(start, engine)  # refuses a naive start
        self.start = self.clock.now()  # start, in UTC
        self.seed = seed
        self.durations = durations or Durations(seed=seed)
        self.watchdog = watchdog  # wall-clock seconds one task or scheduler pass may take
        self.raise_task_errors = raise_task_errors
        self.strict = strict
        self.broker = broker  # its name, as the run record keeps it (harness.brokers)
        self.django_q_log_level = django_q_log_level
        self.colocate = colocate
        self.lock_helpers = tuple(lock_helpers)
        self.network_guard = network_guard
        self.faithful = faithful  # True: django-q2's own code everywhere (no accelerations)
        self.interrupted: str | None = None  # the signal that stopped a replay (its runner sets)
        self.probes: list[Callable[[Simulation], None]] = []  # called after every step
        self._driver = Driver(
            Options(
                start=self.start,
                specs=clusters,
                seed=seed,
                durations=self.durations,
                kind=broker_kind(broker),
                watchdog_seconds=watchdog,
                raise_task_errors=raise_task_errors,
                strict=strict,
                django_q_log_level=django_q_log_level,
                colocate=colocate,
                lock_helpers=self.lock_helpers,
                network_guard=network_guard,
                faithful=faithful,
                runaway=runaway,
            ),
            self.clock,
        )

    # -- lifecycle ----------------------------------------------------------------------------
    def open(self) -> Simulation:
        """Install the patches, start the clock, connect the observers (undone by close)."""
        self._driver.open()
        return self

    def close(self) -> None:
        self._driver.close()

    def __enter__(self) -> Simulation:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the run holds (the driver's, read here) ------------------------------------------
    @property
    def timeline(self) -> Timeline:
        return self._driver.timeline

    @property
    def findings(self) -> list[dict[str, Any]]:
        """Everything that must fail the run, in order (``finding``, ``at``, details)."""
        return self._driver.findings

    @property
    def clusters(self) -> list[ClusterState]:
        return self._driver.clusters

    @property
    def stopped(self) -> dict[str, Any] | None:
        """The finding that ended the run at its instant (watchdog, runaway), or None."""
        return self._driver.stopped

    @property
    def after_task(self) -> list[Callable[[str, str, int], None]]:
        """Callables ``(func, task_id, attempt)`` run right after a task's body."""
        return self._driver.after_task

    @property
    def calls(self) -> CallObserver | None:
        """Sleeps, logs and blocked time of each call (set by open)."""
        return self._driver.calls

    @property
    def locks(self) -> LockModel | None:
        """Locks held to an attempt's virtual end (set by open)."""
        return self._driver.locks

    @property
    def guard(self) -> NetworkGuard | None:
        """The network guard (set by open when ``network_guard`` is on)."""
        return self._driver.guard

    @property
    def colocation(self) -> Colocation | None:
        """Set by open(): the pinned CPU, or why not."""
        return self._driver.colocation

    @property
    def accelerations(self) -> Any:
        """harness.sim.accelerate.SaveTaskAccelerations, or None (``faithful``)."""
        return self._driver.accelerations

    # -- the user's verbs ------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def at(self, when: datetime, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` at virtual time ``when`` (e.g. an ``async_task`` call)."""
        self._driver.agenda.arrive(when, lambda: fn(*args, **kwargs))

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
        driver = self._driver
        while driver.has_work(with_scheduled, cap) and self._step(limit, with_scheduled, cap):
            pass
        counts = {"ok": 0, "failed": 0, "timeout": 0}
        for event in self.timeline.events[mark:]:
            if event.kind == TASK_FINISHED:
                counts[event.data["outcome"]] += 1
        return counts

    def assert_enqueued(self, func: str, **criteria: Any) -> list[Any]:
        """See :func:`harness.record.assertions.assert_enqueued`."""
        from harness.record.assertions import assert_enqueued

        return assert_enqueued(self, func, **criteria)

    def assert_not_enqueued(self, func: str, **criteria: Any) -> None:
        """See :func:`harness.record.assertions.assert_not_enqueued`."""
        from harness.record.assertions import assert_not_enqueued

        assert_not_enqueued(self, func, **criteria)

    def refute_enqueued(self, func: str, **criteria: Any) -> None:
        """The old spelling of :meth:`assert_not_enqueued` (read until the next release)."""
        deprecated("Simulation.refute_enqueued", "assert_not_enqueued")
        self.assert_not_enqueued(func, **criteria)

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
        self._driver.add_finding(finding, **data)

    def adopt_queued(self, during: str) -> int:
        """Take over broker rows that exist before the run (a data migration left them): each
        is recorded as ``task.enqueued`` with ``during``; returns how many."""
        return self._driver.adopt_queued(during)

    def observe_ledger(self, ledger: Any) -> None:
        """Copy every call a fake records into the timeline as ``http.call``."""
        from harness.sim._core.recorder import ledger_observer

        ledger.subscribe(ledger_observer(self._driver.record))

    # -- one step, as the user sees it ---------------------------------------------------------
    def _step(self, limit: datetime, schedules: bool = True, cap: int | None = None) -> bool:
        """The driver's next instant, then the probes, then what must fail the caller."""
        if not self._driver.step(limit, schedules, cap):
            return False
        for probe in self.probes:
            probe(self)
        failure = self._driver.take_failure()
        if failure is not None:
            raise (TaskFailed if failure.task else SimulationError)(failure.message)
        return True
