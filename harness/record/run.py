"""What a run recorded: the timeline, the fakes' ledger and one end-of-run snapshot.

Everything a checker or the report may look at is here, and nothing else: checkers never touch
the live database, so a saved run can be judged again (``harness judge RUN.json``). The JSON
form (:meth:`RunRecord.to_json`) carries no secret: wherever a configured secret appeared, the
snapshot holds the marker ``«secret:<label>»`` instead (the timeline too, when written).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from harness.brokers import DEFAULT, broker_kind
from harness.record.timeline import Event, Timeline, format_time

FORMAT = 1  # the JSON layout's version
MARKER = "«secret:{}»"


@functools.lru_cache(maxsize=256)
def _forms(value: str) -> tuple[str, ...]:
    """How a secret can be spelled in an output: as it is, escaped inside a JSON string (the
    timeline, the record), and escaped by ``repr`` (task rows, log lines quoting arguments).
    Cached: a run's JSON asks for the same few secrets' forms once per string it holds."""
    import json

    forms = (value, json.dumps(value, ensure_ascii=False)[1:-1], repr(value)[1:-1])
    return tuple(dict.fromkeys(forms))


def redact(text: str, secrets: list[tuple[str, str]]) -> str:
    """``text`` with every configured secret value (in any of its spellings) replaced by its
    marker."""
    for label, value in secrets:
        if not value:
            continue
        for form in _forms(value):
            if form and form in text:
                text = text.replace(form, MARKER.format(label))
    return text


def scrub(value: Any, secrets: list[tuple[str, str]]) -> Any:
    """Every string in ``value`` (a JSON-able structure, keys included) redacted."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, secrets) for v in value]
    return value


@dataclass
class ScenarioFacts:
    """The scenario as a run saw it: enough to judge and report it without the TOML."""

    name: str
    source: str
    time_zone: str
    start: dt.datetime
    duration: dt.timedelta
    seed: int
    expect: dict[str, Any] = field(default_factory=dict)  # the raw [expect] tables
    checks: list[str] | None = None
    loads: list[dict[str, Any]] = field(default_factory=list)  # [{name, call, allow_failures}]

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def end(self) -> dt.datetime:
        return self.start + self.duration

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "time_zone": self.time_zone,
            "start": format_time(self.start),
            "duration_seconds": self.duration.total_seconds(),
            "seed": self.seed,
            "expect": _jsonable(self.expect),
            "checks": self.checks,
            "loads": self.loads,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScenarioFacts:
        return cls(
            name=data["name"],
            source=data["source"],
            time_zone=data["time_zone"],
            start=_time(data["start"]),
            duration=dt.timedelta(seconds=data["duration_seconds"]),
            seed=data["seed"],
            expect=data.get("expect") or {},
            checks=data.get("checks"),
            loads=data.get("loads") or [],
        )


@dataclass
class Snapshot:
    """The end-of-run state the checkers need, taken once by the runner."""

    schedules: list[dict[str, Any]] = field(default_factory=list)  # as setup left them
    queued: dict[str, dict[str, Any]] = field(default_factory=dict)  # broker rows at the end
    task_rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # Task rows (redacted)
    logs: list[str] = field(default_factory=list)  # every captured log line (redacted)
    secrets: list[str] = field(default_factory=list)  # labels of the secrets looked for
    audit: dict[str, Any] | None = None  # {"model", "time_field", "rows": [{at, text}]}
    signatures: dict[str, Any] = field(default_factory=dict)  # func → parameters or error
    task_functions: list[str] = field(default_factory=list)  # public functions of tasks modules
    collected: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    """Invariant → collection name → [{at, rows, (task, func, attempt)}]: the project's own rows
    an invariant declared (:mod:`harness.checkers.invariants`), redacted, rendered stable."""

    def to_json(self) -> dict[str, Any]:
        return _jsonable(
            {
                "schedules": self.schedules,
                "queued": self.queued,
                "task_rows": self.task_rows,
                "logs": self.logs,
                "secrets": self.secrets,
                "audit": self.audit,
                "signatures": self.signatures,
                "task_functions": self.task_functions,
                "collected": self.collected,
            }
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        schedules = [
            {**row, "next_run": _time(row["next_run"]) if row.get("next_run") else None}
            for row in data.get("schedules", [])
        ]
        queued = {
            tid: {**row, "lock": _time(row["lock"]) if row.get("lock") else None}
            for tid, row in data.get("queued", {}).items()
        }
        audit = data.get("audit")
        if audit is not None:
            audit = {**audit, "rows": [{**r, "at": _time(r["at"])} for r in audit["rows"]]}
        return cls(
            schedules=schedules,
            queued=queued,
            task_rows=data.get("task_rows", {}),
            logs=data.get("logs", []),
            secrets=data.get("secrets", []),
            audit=audit,
            signatures=data.get("signatures", {}),
            task_functions=data.get("task_functions", []),
            collected={
                name: {
                    key: [{**e, "at": _time(e["at"])} for e in entries]
                    for key, entries in tables.items()
                }
                for name, tables in data.get("collected", {}).items()
            },
        )


@dataclass
class RunRecord:
    """One run, as recorded: what the checkers and the report read."""

    scenario: ScenarioFacts
    seed: int
    end: dt.datetime
    timeline: Timeline
    clusters: list[Any]  # harness.sim.cluster.ClusterSpec
    broker: str = DEFAULT.name  # harness.brokers: what the broker did differently
    default_cluster: str | None = None
    ledger: list[Any] | None = None  # harness.fakes.ledger.LedgerEntry, or None: no fakes
    findings: list[dict[str, Any]] = field(default_factory=list)
    fault_rules: list[dict[str, Any]] = field(default_factory=list)
    snapshot: Snapshot = field(default_factory=Snapshot)
    stopped: dict[str, Any] | None = None  # the finding that ended the run early (watchdog…)
    interrupted: str | None = None  # "SIGINT" / "SIGTERM": a partial run, judged up to ``end``
    baseline: dict[str, Any] | None = None  # the known problems it is judged with (a baseline)
    django_q: str = ""
    secret_values: list[tuple[str, str]] = field(default_factory=list, repr=False)
    """(label, value) while the run is live; never written (a loaded record has none)."""

    @property
    def partial(self) -> bool:
        """Stopped by a signal before its end: the verdicts cover the run up to ``end`` only."""
        return self.interrupted is not None

    def timeline_text(self) -> str:
        """The timeline as JSON Lines with secrets replaced by their markers."""
        return redact(self.timeline.dumps(), self.secret_values)

    def to_json(self) -> dict[str, Any]:
        """The record as JSON values; every configured secret, wherever it appears (timeline,
        ledger, findings, the scenario's own tables), is its marker."""
        return scrub(self._json(), self.secret_values)

    def _json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "scenario": self.scenario.to_json(),
            "seed": self.seed,
            "end": format_time(self.end),
            "clusters": [c.to_dict() for c in self.clusters],
            "broker": self.broker,
            "default_cluster": self.default_cluster,
            "ledger": None if self.ledger is None else [e.to_dict() for e in self.ledger],
            "findings": _jsonable(self.findings),
            "fault_rules": _jsonable(self.fault_rules),
            "snapshot": self.snapshot.to_json(),
            "stopped": _jsonable(self.stopped),
            "interrupted": self.interrupted,
            "partial": self.partial,
            "baseline": self.baseline,
            "django_q": self.django_q,
            "timeline": self.timeline_text().splitlines(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        from harness.fakes.ledger import LedgerEntry
        from harness.sim.cluster import ClusterSpec

        if data.get("format") != FORMAT:
            raise ValueError(f"not a run record of format {FORMAT} (got {data.get('format')!r})")
        ledger = data.get("ledger")
        return cls(
            scenario=ScenarioFacts.from_json(data["scenario"]),
            seed=data["seed"],
            end=_time(data["end"]),
            timeline=Timeline.loads(data["timeline"]),
            clusters=[ClusterSpec.from_dict(c) for c in data["clusters"]],
            broker=broker_kind(data.get("broker", DEFAULT.name)).name,
            default_cluster=data.get("default_cluster"),
            ledger=None if ledger is None else [LedgerEntry.from_dict(e) for e in ledger],
            findings=data.get("findings", []),
            fault_rules=data.get("fault_rules", []),
            snapshot=Snapshot.from_json(data.get("snapshot", {})),
            stopped=data.get("stopped"),
            interrupted=data.get("interrupted"),
            baseline=data.get("baseline"),
            django_q=data.get("django_q", ""),
        )


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _jsonable(value: Any) -> Any:
    """Plain JSON values: times as ISO strings, durations as '<seconds>s'."""
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dt.timedelta):
        return f"{value.total_seconds():g}s"
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Event):
        return value.to_json()
    return value
