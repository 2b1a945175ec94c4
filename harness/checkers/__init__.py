"""Checkers: one module per invariant, each turning a finished run into a :class:`Verdict`.

A checker module has ``NAME``, ``DOC`` (one line), ``options(reader) -> dict`` (validates its
``[expect.<name>]`` table; unknown keys are the scenario's error) and ``check(ctx) -> Verdict``.
Checkers read the run through :class:`RunContext`: what the run recorded (timeline, ledger,
one end-of-run snapshot), never the live database, so a saved run can be judged again. Messages
name business keys and virtual times. A new checker is a module here, listed in ``_MODULES``.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import zoneinfo
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from harness.checkers.expectations import Expectations
from harness.checkers.problems import Problem
from harness.record.history import History
from harness.record.run import RunRecord
from harness.record.timeline import Timeline

_MODULES = (
    "lost_jobs",
    "duplicate_effects",
    "schedule_adherence",
    "retry_discipline",
    "queue_bound",
    "task_metrics",
    "enqueue_contract",
    "quiet_failures",
    "load_outcomes",
    "secrets",
    "audit",
    "driver_findings",
    "activity",
)


@dataclass(frozen=True)
class Verdict:
    """A checker's judgement: ``ok`` when it has no (unknown) problems. ``evidence`` is for a
    human (the problems' messages, and notes that fail nothing); ``problems`` are the instances
    that fail it; ``known`` the instances a baseline covers (they fail nothing, and are
    counted)."""

    name: str
    ok: bool
    message: str
    evidence: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    known: list[Problem] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        name: str,
        problems: list[Problem],
        ok_message: str,
        fail_message: str,
        notes: list[str] | None = None,
    ) -> Verdict:
        """Holds without problems (``ok_message``), fails with them (``fail_message``)."""
        notes = list(notes or [])
        if not problems:
            return cls(name, True, ok_message, notes)
        return cls(
            name, False, fail_message, limit([p.message for p in problems] + notes), problems
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "message": self.message,
            "evidence": self.evidence,
            "problems": [p.to_dict() for p in self.problems],
            "known": [p.to_dict() for p in self.known],
        }


class RunContext:
    """What a checker may look at: one recorded run (:class:`~harness.record.run.RunRecord`)
    and the parsed ``[expect]`` options. Never the live database: a saved run is judged the
    same way (``harness judge``)."""

    def __init__(self, record: RunRecord, expectations: Expectations | None = None) -> None:
        self.record = record
        self.expectations = expectations or Expectations()

    # -- the run -----------------------------------------------------------------------------
    @property
    def timeline(self) -> Timeline:
        return self.record.timeline

    @functools.cached_property
    def history(self) -> History:
        """The per-task history every checker reads (built once)."""
        return History(self.record.timeline)

    @property
    def clusters(self) -> list[Any]:
        return self.record.clusters

    @property
    def start(self) -> dt.datetime:
        return self.record.scenario.start

    @property
    def end(self) -> dt.datetime:
        return self.record.end

    @property
    def ledger(self) -> LedgerView | None:
        return None if self.record.ledger is None else LedgerView(self.record.ledger)

    @property
    def broker(self) -> str:
        return self.record.broker

    @property
    def findings(self) -> list[dict[str, Any]]:
        return self.record.findings

    @property
    def default_cluster(self) -> str | None:
        return self.record.default_cluster

    @property
    def fault_rules(self) -> list[dict[str, Any]]:
        return self.record.fault_rules

    # -- the end-of-run snapshot ---------------------------------------------------------------
    @property
    def schedules(self) -> list[dict[str, Any]]:
        return self.record.snapshot.schedules

    @property
    def queued(self) -> dict[str, dict[str, Any]]:
        return self.record.snapshot.queued

    @property
    def task_rows(self) -> dict[str, dict[str, Any]]:
        return self.record.snapshot.task_rows

    @property
    def logs(self) -> list[str]:
        return self.record.snapshot.logs

    @property
    def secrets(self) -> list[str]:
        """Labels of the secrets the run looked for (their values are never recorded)."""
        return self.record.snapshot.secrets

    @property
    def audit(self) -> dict[str, Any] | None:
        return self.record.snapshot.audit

    @property
    def signatures(self) -> dict[str, Any]:
        return self.record.snapshot.signatures

    # -- reading helpers ---------------------------------------------------------------------
    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return self.record.scenario.zone

    @property
    def time_zone(self) -> str:
        return self.record.scenario.time_zone

    def options(self, name: str) -> Any:
        """Checker ``name``'s typed options (its defaults when the scenario gives none)."""
        return self.expectations.of(name)

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


class LedgerView:
    """The recorded ledger with the fakes' ``Ledger.entries()`` interface."""

    def __init__(self, entries: list[Any]) -> None:
        self._entries = entries

    def entries(self) -> list[Any]:
        return list(self._entries)


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


def builtin_checks(names: list[str] | None) -> list[str]:
    """The built-in checkers ``[expect] checks`` keeps: every one (None), the named ones, or
    every one but those named ``"!name"``."""
    if names is None:
        return list(CHECKERS)
    skipped = {n[1:] for n in names if n.startswith("!")}
    picked = [n for n in names if not n.startswith("!")]
    base = [n for n in picked if n in CHECKERS] if picked else list(CHECKERS)
    return [n for n in base if n not in skipped]


def run_all(ctx: RunContext, names: list[str] | None = None) -> list[Verdict]:
    """The chosen built-in checkers' verdicts, then each invariant's (the scenario's
    ``[[expect.custom]]`` and the installed ``dq_harness.checkers`` entry points)."""
    from harness.checkers import custom

    invariants = custom.chosen(
        ctx.expectations.custom, names, ctx.record.scenario.source, list(CHECKERS)
    )
    verdicts = [CHECKERS[name].check(ctx) for name in builtin_checks(names)]
    return verdicts + [custom.judge(ctx, c) for c in invariants]
