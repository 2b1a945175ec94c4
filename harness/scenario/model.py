"""A scenario, as dataclasses: what to run, what to load, which fakes, what to expect.

Built by :mod:`harness.scenario.parse` from TOML, or directly in Python.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.distributions import Distribution
from harness.errors import ScenarioError
from harness.fakes import FAKES

__all__ = ["FAKE_KINDS", "SHAPES", "FakeSpec", "LoadSpec", "Scenario", "ScenarioError", "SetupStep"]

FAKE_KINDS: tuple[str, ...] = tuple(FAKES)
SHAPES: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    # Orders arrive mostly in office hours, a few at night.
    "business-hours": (
        (0.2,) * 7 + (0.6, 1.0, 1.6, 1.8, 1.8, 1.4, 1.6, 1.8, 1.6, 1.4, 1.0, 0.8) + (0.5,) * 5
    ),
}


# -- the model ------------------------------------------------------------------------------------
@dataclass
class SetupStep:
    """A management command (``command`` + ``args``) or a dotted-path callable (``call``)."""

    command: str | None = None
    args: list[Any] = field(default_factory=list)
    call: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.command:
            return " ".join([self.command, *map(str, self.args)])
        return f"{self.call}()"


@dataclass
class LoadSpec:
    """Arrivals of ``call(*args, **kwargs)`` at seeded times (strings in args are templates).

    Exactly one of: ``per_day`` (with a daily ``shape``), ``every``, ``at`` or ``cron``;
    ``count`` calls per arrival point (spread over ``spread``) for ``every``/``at``/``cron``.
    """

    name: str
    call: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    per_day: int | None = None
    shape: tuple[float, ...] = SHAPES["flat"]
    every: dt.timedelta | None = None
    at: list[dt.timedelta | dt.datetime] = field(default_factory=list)
    cron: str | None = None
    count: int = 1
    spread: dt.timedelta = dt.timedelta()
    start: dt.timedelta = dt.timedelta()  # offset from the scenario start
    end: dt.timedelta | None = None  # offset from the scenario start
    allow_failures: int = 0  # arrivals that may raise (or return an error) and the run holds


@dataclass
class FakeSpec:
    """A fake mounted in-process at ``url`` (``{settings.NAME}`` is replaced by the setting)."""

    name: str  # [fakes.NAME]: a built-in fake's kind, or the name of the project's own (``app``)
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    webhook_path: str | None = None  # payments: deliver webhooks to this path (Django client)
    app: str | None = None  # a project's own fake: "dotted.path:Class" (a FakeApp subclass)


@dataclass
class Scenario:
    name: str
    start: dt.datetime
    duration: dt.timedelta
    settings: str | None = None  # None: --settings, else DJANGO_SETTINGS_MODULE
    description: str = ""
    time_zone: str = "UTC"
    seed: int = 0
    setup: list[SetupStep] = field(default_factory=list)
    cluster: dict[str, Any] = field(default_factory=dict)  # ClusterSpec overrides
    clusters: list[dict[str, Any]] = field(default_factory=list)  # [[clusters]]: named ones
    override_settings: dict[str, Any] = field(default_factory=dict)  # [override_settings]
    downtime: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    durations_default: float = 0.0
    durations_per_func: dict[str, float | tuple[float, float]] = field(default_factory=dict)
    durations_from: dict[str, Distribution] = field(default_factory=dict)  # measured
    loads: list[LoadSpec] = field(default_factory=list)
    fakes: list[FakeSpec] = field(default_factory=list)
    expect: dict[str, Any] = field(default_factory=dict)  # [expect] as written (checker → table)
    checks: list[str] | None = None  # None: every checker
    gate_until: dt.timedelta | None = None  # the golden covers start .. start + gate_until
    source: str = "<scenario>"
    project_root: Path | None = None  # put first on sys.path (None: the current directory)
    paths: list[Path] = field(default_factory=list)  # more sys.path entries, after the root
    database: str = "project"  # "project": its own DATABASES; "harness": the harness's server
    watchdog: float = 10.0  # wall-clock seconds a task or scheduler pass may take
    lock_helpers: list[str] = field(default_factory=list)  # lock context managers (sim.locks)
    startup_ready: list[str] = field(default_factory=list)  # [startup] ready: apps to redo
    baseline: Path | None = None  # known problems (harness.checkers.baseline), beside the file
    runaway: dict[str, int] = field(default_factory=dict)  # [runaway] budgets (sim.runaway)

    @property
    def end(self) -> dt.datetime:
        return self.start + self.duration

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)
