"""Checkers: one module per invariant, each turning a finished run into a :class:`Verdict`.

A checker module has ``NAME``, ``DOC`` (one line), ``options(reader) -> dict`` (validates its
``[expect.<name>]`` table; unknown keys are the scenario's error) and ``check(ctx) -> Verdict``.
Checkers read the run through :class:`RunContext` (timeline, ledger, end-of-run database
snapshots) and never change anything. Messages name business keys and virtual times.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import zoneinfo
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from harness.record.history import History
from harness.record.timeline import Timeline

_MODULES = (
    "lost_jobs",
    "duplicate_effects",
    "schedule_adherence",
    "retry_discipline",
    "queue_bound",
    "enqueue_contract",
    "secrets",
    "audit",
    "driver_findings",
)


@dataclass(frozen=True)
class Verdict:
    name: str
    ok: bool
    message: str
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "message": self.message,
            "evidence": self.evidence,
        }


@dataclass
class RunContext:
    """Everything a checker may look at, collected by the runner at the end of a run."""

    scenario: Any  # harness.scenario.Scenario
    timeline: Timeline
    clusters: list[Any]  # harness.ClusterSpec
    start: dt.datetime
    end: dt.datetime
    ledger: Any = None  # fakes.Ledger
    broker: str = "orm"
    schedules: list[dict[str, Any]] = field(default_factory=list)  # snapshot after setup
    queued: dict[str, dict[str, Any]] = field(default_factory=dict)  # OrmQ rows at the end
    task_rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # Task rows at the end
    logs: list[str] = field(default_factory=list)
    secrets: list[tuple[str, str]] = field(default_factory=list)  # (label, value)
    findings: list[dict[str, Any]] = field(default_factory=list)
    default_cluster: str | None = None  # django-q2's Conf.PREFIX
    fault_rules: list[dict[str, Any]] = field(default_factory=list)  # the merged fault plan

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return self.scenario.zone

    @functools.cached_property
    def history(self) -> History:
        """The per-task history every checker reads (built once)."""
        return History(self.timeline)

    def options(self, name: str) -> dict[str, Any]:
        return dict(self.scenario.expect.get(name, {}))

    def when(self, value: dt.datetime | str | None) -> str:
        """A virtual time as the scenario's local wall-clock time (with its zone abbreviation)."""
        if value is None:
            return "?"
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        local = value.astimezone(self.zone)
        return local.strftime("%Y-%m-%d %H:%M:%S %Z")

    def cluster_for_queue(self, queue: str | None) -> Any:
        for spec in self.clusters:
            if spec.name == (queue or self.default_cluster):
                return spec
        return None


def call_repr(func: str | None, args: Any, kwargs: Any) -> str:
    """``module.func(1, 'a', k=2)`` — short, for messages."""
    name = (func or "?").rsplit(".", 1)[-1]
    parts = [repr(a) for a in (args or [])]
    parts += [f"{k}={v!r}" for k, v in sorted((kwargs or {}).items())]
    text = ", ".join(parts)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{name}({text})"


def enqueued_calls(ctx: RunContext) -> dict[str, Any]:
    """Task id → its first ``task.enqueued`` event (an enqueue a failed scheduler pass rolled
    back with its transaction never happened, so it is left out)."""
    return {tid: t.enqueued for tid, t in ctx.history.enqueued().items()}


def limit(evidence: list[str], n: int = 50) -> list[str]:
    if len(evidence) <= n:
        return evidence
    return [*evidence[:n], f"... and {len(evidence) - n} more"]


def _load() -> dict[str, ModuleType]:
    modules = [importlib.import_module(f"harness.checkers.{m}") for m in _MODULES]
    return {m.NAME: m for m in modules}


CHECKERS: dict[str, ModuleType] = _load()


def run_all(ctx: RunContext, names: list[str] | None = None) -> list[Verdict]:
    chosen = names if names is not None else list(CHECKERS)
    return [CHECKERS[name].check(ctx) for name in chosen]
