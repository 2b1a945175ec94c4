"""What a replay (or a re-judged record) hands back: the record, the verdicts, the command."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any

from harness.checkers import LedgerView, Verdict
from harness.record.findings import describe
from harness.record.history import History
from harness.record.run import RunRecord
from harness.record.timeline import Timeline, format_time


@dataclass
class RunResult:
    """A judged run; ``ok`` when every checker holds.

    ``scenario`` is the :class:`~harness.scenario.Scenario` of a live replay, or the recorded
    :class:`~harness.record.run.ScenarioFacts` of a re-judged one (``harness judge``); both
    have ``name``, ``source``, ``start``, ``zone`` and ``time_zone``."""

    record: RunRecord
    verdicts: list[Verdict]
    command: str = ""
    scenario: Any = None
    fixed: list[Any] = field(default_factory=list)  # baseline entries that no longer occur

    def __post_init__(self) -> None:
        if self.scenario is None:
            self.scenario = self.record.scenario

    # -- the run -----------------------------------------------------------------------------
    @property
    def seed(self) -> int:
        return self.record.seed

    @property
    def end(self) -> dt.datetime:
        return self.record.end

    @property
    def timeline(self) -> Timeline:
        return self.record.timeline

    @functools.cached_property
    def history(self) -> History:
        """The per-task history of the run (built once: the summary, the report and the JSON
        all read it)."""
        return History(self.record.timeline)

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        return self.history.stats()

    @property
    def clusters(self) -> list[Any]:
        return self.record.clusters

    @property
    def ledger(self) -> LedgerView | None:
        return None if self.record.ledger is None else LedgerView(self.record.ledger)

    @property
    def schedules(self) -> list[dict[str, Any]]:
        return self.record.snapshot.schedules

    @property
    def stopped(self) -> dict[str, Any] | None:
        return self.record.stopped

    # -- the verdict -------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.ok]

    def explain(self) -> str:
        """One line per failed checker (for assertion messages)."""
        if self.ok:
            return f"{self.scenario.name}: every check holds"
        return "\n".join(f"{v.name}: {v.message}" for v in self.failed)

    def verdict(self, name: str) -> Verdict:
        return next(v for v in self.verdicts if v.name == name)

    def to_dict(self) -> dict[str, Any]:
        """The summary, and under ``record`` everything ``harness judge`` needs."""
        return {
            "scenario": self.scenario.name,
            "source": self.scenario.source,
            "seed": self.seed,
            "start": format_time(self.scenario.start),
            "end": format_time(self.end),
            "ok": self.ok,
            "command": self.command,
            "stats": self.stats,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "events": len(self.timeline),
            "django_q": self.record.django_q,
            "stopped": None
            if self.stopped is None
            else describe(self.stopped, self.record.scenario.zone),
            "partial": self.record.partial,
            "interrupted": self.record.interrupted,
            "problems": [p.to_dict() for v in self.verdicts for p in v.problems],
            "known": [p.to_dict() for v in self.verdicts for p in v.known],
            "fixed": [e.to_dict() for e in self.fixed],
            "record": self.record.to_json(),
        }
