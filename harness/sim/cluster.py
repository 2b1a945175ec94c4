"""What a simulated cluster is configured with (the one list of its settings) and runs on.

:data:`SETTINGS` is the single place the cluster settings are listed: :class:`ClusterSpec`'s
fields, how each is read from django-q2's ``Conf`` (the project's ``Q_CLUSTER``), which ``Conf``
attribute is set around every call made for the cluster, and what a scenario's ``[cluster]``
table accepts all derive from it.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from harness.distributions import Distribution

EPS = timedelta(microseconds=1)
SCHEDULER_PERIOD = timedelta(seconds=30)  # Sentinel.guard: counter >= 30 → scheduler()


@dataclass(frozen=True)
class Setting:
    """One cluster setting: its ClusterSpec field, its django-q2 ``Conf`` attribute (if any),
    the types and lowest value a scenario may give, and whether it is set on ``Conf`` around
    each call made for the cluster (``Conf`` is global; several clusters share it)."""

    field: str
    conf: str | None
    kinds: tuple[type, ...]
    minimum: float | None
    per_call: bool
    read: Callable[[Any], Any] = lambda value: value
    optional: bool = False  # None is a value (no limit)


SETTINGS: tuple[Setting, ...] = (
    Setting("name", "CLUSTER_NAME", (str,), None, True),
    Setting("workers", "WORKERS", (int,), 1, True, lambda v: int(v or 1)),
    Setting("queue_limit", "QUEUE_LIMIT", (int,), 0, True, optional=True),
    Setting("bulk", "BULK", (int,), 1, True, lambda v: int(v or 1)),
    Setting("retry", "RETRY", (int,), 1, True, int),
    Setting("timeout", "TIMEOUT", (int,), 1, True, optional=True),
    Setting("max_attempts", "MAX_ATTEMPTS", (int,), 0, True, lambda v: int(v or 0)),
    Setting("ack_failures", "ACK_FAILURES", (bool,), None, True, bool),
    Setting("save_limit", "SAVE_LIMIT", (int,), 0, True, int),
    Setting("catch_up", "CATCH_UP", (bool,), None, True, bool),
    Setting("scheduler", "SCHEDULER", (bool,), None, False, bool),
    Setting("phase", None, (int, float), 0, False),
)
CONF_PER_CALL = tuple(s.conf for s in SETTINGS if s.per_call)


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

        values = {s.field: s.read(getattr(Conf, s.conf)) for s in SETTINGS if s.conf}
        values.update(overrides)
        return cls(**values)

    @property
    def capacity(self) -> int:
        return self.queue_limit if self.queue_limit is not None else self.workers**2

    def conf(self) -> dict[str, Any]:
        """The ``Conf`` attributes set around each call made for this cluster."""
        return {s.conf: getattr(self, s.field) for s in SETTINGS if s.per_call}

    def to_dict(self) -> dict[str, Any]:
        out = {s.field: getattr(self, s.field) for s in SETTINGS}
        out["downtime"] = [[a.isoformat(), b.isoformat()] for a, b in self.downtime]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterSpec:
        values = {s.field: data.get(s.field) for s in SETTINGS if s.field in data}
        values["downtime"] = [
            (datetime.fromisoformat(a), datetime.fromisoformat(b))
            for a, b in data.get("downtime", [])
        ]
        return cls(**values)


class Durations:
    """Virtual task durations: a default plus per-function constants, ``(lo, hi)`` ranges or
    measured :class:`~harness.distributions.Distribution` s.

    Ranges and distributions are drawn from a generator seeded by (seed, task id, attempt), so
    a task's duration does not depend on what else ran before it.
    """

    def __init__(
        self,
        default: float = 0.0,
        per_func: dict[str, float | tuple[float, float] | Distribution | Callable[..., float]]
        | None = None,
        seed: int = 0,
    ) -> None:
        self.default = default
        self.per_func = dict(per_func or {})
        self.seed = seed

    def __call__(self, func: str, task: dict[str, Any], attempt: int) -> float:
        spec = self.per_func.get(func, self.default)
        if isinstance(spec, Distribution):  # measured run times: inverse CDF of a seeded draw
            return spec.at(random.Random(f"{self.seed}:{task['id']}:{attempt}").random())
        if callable(spec):
            return float(spec(task, attempt))
        if isinstance(spec, tuple):
            lo, hi = spec
            return random.Random(f"{self.seed}:{task['id']}:{attempt}").uniform(lo, hi)
        return float(spec)


class ClusterState:
    """A simulated cluster at run time: what its pusher holds, its in-memory queue, its worker
    slots, whether it is up, and where its scheduler grid lies."""

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
        self.transitions: list[tuple[datetime, bool]] = sorted(
            [(a, False) for a, _ in spec.downtime] + [(b, True) for _, b in spec.downtime]
        )

    @property
    def name(self) -> str:
        return self.spec.name or ""

    def transitions_due(self, now: datetime) -> bool:
        """Whether the cluster goes down or comes back at (or before) ``now``."""
        return bool(self.transitions) and self.transitions[0][0] <= now

    def reset_slots(self) -> None:
        """A cluster that went down lost everything in memory and every worker."""
        self.mem.clear()
        self.hold.clear()
        self.running.clear()
        self.busy = 0
        self.free = list(range(self.spec.workers))

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
class Completion:
    """A started attempt whose result reaches the monitor at its virtual end."""

    cluster: ClusterState
    result: dict[str, Any]
    attempt: int
    outcome: str  # ok | failed | timeout
    slot: int = 0  # the worker process that ran it


def owned_schedules(cluster_name: str) -> tuple[str, list[Any]]:
    """The SQL condition (and its parameters) for the Schedule rows a cluster's scheduler runs:
    its own, and the unnamed ones when it is the default cluster (django-q2's ``Q_default``)."""
    from django_q.conf import Conf

    default = " OR cluster IS NULL" if cluster_name == Conf.PREFIX else ""
    return f"(cluster = %s{default})", [cluster_name]
