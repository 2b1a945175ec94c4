"""What django-q2's processes get of the run they belong to: exactly this, never the Simulation.

The driver builds one :class:`Services` when the simulation opens and hands it to
:class:`~harness.sim._core.processes.Processes`; the processes read and write the run only
through it (the clock through ``now``, the timeline through ``record``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harness.brokers import BrokerKind
from harness.sim._core.agenda import Agenda
from harness.sim._core.dry import DryPulls
from harness.sim._core.recorder import Record, TaskBook
from harness.sim.cluster import Durations
from harness.sim.locks import LockModel, Process
from harness.sim.runaway import RunawayGuard
from harness.sim.scopes import CallObserver


@dataclass(frozen=True)
class Services:
    """The run as django-q2's scheduler, pusher, workers and monitor see it."""

    kind: BrokerKind  # what the broker does (rollbacks, batch size, acks)
    book: TaskBook  # each task's function, attempts, ack ids; every enqueue
    agenda: Agenda  # where an attempt's virtual end is scheduled (or taken back)
    dry: DryPulls  # whether a claim would find nothing
    durations: Durations
    runaway: RunawayGuard
    calls: CallObserver  # a task body's sleeps, logs and blocked time
    locks: LockModel | None  # locks held to an attempt's virtual end; None: not modelled
    watchdog_seconds: float | None
    after_task: list[Callable[[str, str, int], None]]  # run right after a body: (func, task, n)
    now: Callable[[], datetime]
    record: Record  # an event at ``now()``
    add_finding: Callable[..., None]
    task_failed: Callable[[str, int, str, Any], None]  # (task, attempt, outcome, result)

    def as_process(self, proc: Process) -> contextlib.AbstractContextManager[Any]:
        """Run a call as one of a real cluster's processes (its own in-memory caches)."""
        return contextlib.nullcontext() if self.locks is None else self.locks.process(proc)
