"""The run's record: events at virtual times, encoded as byte-stable JSON Lines.

One line per event: ``{"t": "<UTC ISO, µs>", "kind": "<what>", ...}`` with sorted keys, compact
separators and no floats from wall clocks — so the same scenario and seed give the same bytes,
and a golden file can be diffed line by line (:func:`first_divergence`).

Every event kind is defined once, below (:data:`KINDS`: its name as a constant such as
:data:`TASK_FINISHED`, what it records, its fields and which of them it always has); whatever
writes or reads events uses those constants. :func:`schema` is the JSON Schema of a line,
generated from them (``docs/timeline.schema.json``, kept in sync by a test).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# -- the event kinds ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One event kind: what it records, its fields (each a JSON Schema of the value as the line
    holds it), those every event of the kind has, and whether other fields may appear."""

    name: str
    doc: str
    fields: dict[str, dict[str, Any]]
    required: tuple[str, ...]
    open: bool = False  # other fields too (a finding carries its own details)


@dataclass(frozen=True)
class _Maybe:
    """A field an event of the kind may lack."""

    schema: dict[str, Any]


KINDS: dict[str, Kind] = {}
"""Every event kind, by name, in the order they are documented."""


def _kind(name: str, doc: str, *, open: bool = False, **fields: Any) -> str:
    schemas = {k: v.schema if isinstance(v, _Maybe) else v for k, v in fields.items()}
    required = tuple(k for k, v in fields.items() if not isinstance(v, _Maybe))
    KINDS[name] = Kind(name, doc, schemas, required, open)
    return name


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*types, "null"]}


TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
"""A line's ``t``: :func:`format_time`."""
STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
BOOL: dict[str, Any] = {"type": "boolean"}
VALUE: dict[str, Any] = {"description": "any value, as stable() renders it"}
WHEN: dict[str, Any] = {"type": "string", "description": "an instant (stable(): UTC ISO)"}
SECONDS: dict[str, Any] = {
    "type": ["integer", "string"],
    "description": "seconds: an integer, or a float as its repr (a line holds no floats)",
}
ARGS: dict[str, Any] = {"type": ["array", "null"], "description": "positional arguments"}
KWARGS: dict[str, Any] = {"type": ["object", "null"], "description": "keyword arguments"}
RECORDS: dict[str, Any] = {
    "type": "array",
    "items": {"type": "array", "items": STR, "minItems": 3, "maxItems": 3},
    "description": "the first kept log records, each [level, logger, message]",
}
COUNTS: dict[str, Any] = {"type": "object", "additionalProperties": INT}


def _enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


SCHEDULE_FIRED = _kind(
    "schedule.fired",
    "a scheduler pass enqueued a due schedule's task (the pass completed)",
    schedule=STR, func=STR, task=STR, slot=WHEN, cluster=STR,
)  # fmt: skip
TASK_ENQUEUED = _kind(
    "task.enqueued",
    "a task reached the broker (during: 'migrate' for a row a data migration left, taken over "
    "at the start)",
    task=STR, func=STR, args=ARGS, kwargs=KWARGS, queue=STR,
    group=_or_null({"type": ["string", "integer"]}), during=_Maybe(STR),
)  # fmt: skip
TASK_ROLLEDBACK = _kind(
    "task.rolledback",
    "an enqueue of a scheduler pass that failed, undone with its transaction (a broker that "
    "enqueues inside it: ORM)",
    task=STR, cluster=STR,
)  # fmt: skip
TASK_CLAIMED = _kind(
    "task.claimed",
    "a pusher claimed the task (lock_until: invisible until then; null: never redelivered)",
    task=STR, func=STR, cluster=STR, lock_until=_or_null(WHEN), redelivery=BOOL,
)  # fmt: skip
TASK_STARTED = _kind(
    "task.started",
    "a worker slot ran the task's body (at this instant; its duration is virtual)",
    task=STR, func=STR, cluster=STR, attempt=INT, timeout=_or_null(SECONDS),
)  # fmt: skip
TASK_FINISHED = _kind(
    "task.finished",
    "an attempt's result reached the monitor (returned: what the body returned, brief(); "
    "absent when it returned None)",
    task=STR, func=_or_null(STR), cluster=STR, attempt=INT,
    outcome=_enum("ok", "failed", "timeout"), error=_or_null(STR), returned=_Maybe(VALUE),
)  # fmt: skip
TASK_SLEPT = _kind(
    "task.slept",
    "virtual sleeps of the body (part of its duration)",
    task=STR, attempt=INT, seconds=SECONDS, calls=INT,
)  # fmt: skip
TASK_LOGGED = _kind(
    "task.logged",
    "WARNING+ records the body logged (counts per level; the first five records)",
    task=STR, func=STR, attempt=INT, counts=COUNTS, records=RECORDS,
)  # fmt: skip
TASK_ACKED = _kind("task.acked", "the broker acknowledged the task", task=STR, queue=STR)
TASK_DISCARDED = _kind(
    "task.discarded", "the worker discarded the task (a bad signature)", task=STR, queue=STR
)
TASK_KILLED = _kind(
    "task.killed",
    "its cluster went down while the attempt ran (no result saved)",
    task=STR, func=_or_null(STR), cluster=STR, attempt=INT,
)  # fmt: skip
CLUSTER_DOWN = _kind("cluster.down", "a cluster went down", cluster=STR)
CLUSTER_UP = _kind("cluster.up", "a cluster came back", cluster=STR)
HTTP_CALL = _kind(
    "http.call",
    "a call a fake served (its ledger entry)",
    fake=STR, operation=STR, key=_or_null(STR), status=INT, effect=_or_null(STR),
    fault=_or_null(STR), task=_or_null(STR), attempt=_or_null(INT),
)  # fmt: skip
LOAD_CALLED = _kind(
    "load.called",
    "one load arrival and what came of it",
    load=STR, call=STR, args=ARGS, kwargs=KWARGS,
    outcome=_enum("returned", "raised", "stopped"), error=_Maybe(STR), returned=_Maybe(VALUE),
    logged=_Maybe(COUNTS), records=_Maybe(RECORDS), slept=_Maybe(SECONDS),
)  # fmt: skip
STARTUP_READY = _kind(
    "startup.ready",
    "an app's ready() redone at the virtual start (its start-up database work; whole: the "
    "database block had cut it short)",
    app=STR, whole=BOOL,
)  # fmt: skip
LOCK_REFUSED = _kind(
    "lock.refused",
    "an advisory lock another running attempt holds, tried and refused (harness.sim.locks)",
    key=STR, task=STR, holder=STR,
)  # fmt: skip
LOCK_WAITED = _kind(
    "lock.waited",
    "an advisory lock another running attempt holds, waited for (harness.sim.locks)",
    key=STR, task=STR, holder=STR,
)  # fmt: skip
FINDING = _kind(
    "finding",
    "something that must fail the run (a scheduler pass that raised, a result that could not "
    "be saved, a watchdog stop, a refused connection, a per-process lock), with its details",
    open=True,
    finding=STR,
)  # fmt: skip
RUN_STOPPED = _kind(
    "run.stopped",
    "the last event of a run that ended early",
    reason=_enum("watchdog", "runaway", "interrupted"), stopped=_Maybe(STR), signal=_Maybe(STR),
)  # fmt: skip
TASK_KINDS = frozenset(name for name in KINDS if name.startswith("task."))
"""The kinds that follow one task (each has its ``task`` field)."""


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one timeline line, generated from :data:`KINDS`."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dq-harness timeline event",
        "description": "One line of a timeline (JSON Lines): when, what kind, and the kind's "
        "fields. Generated from harness.record.timeline.KINDS.",
        "type": "object",
        "required": ["t", "kind"],
        "properties": {
            "t": {"type": "string", "pattern": TIME_PATTERN, "description": "UTC, to the µs"},
            "kind": {"enum": list(KINDS)},
        },
        "allOf": [
            {"if": {"properties": {"kind": {"const": k}}}, "then": {"$ref": f"#/$defs/{k}"}}
            for k in KINDS
        ],
        "$defs": {k.name: _kind_schema(k) for k in KINDS.values()},
    }


def _kind_schema(kind: Kind) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": kind.doc,
        "type": "object",
        "properties": {"t": {}, "kind": {"const": kind.name}, **kind.fields},
        "required": ["t", "kind", *kind.required],
    }
    if not kind.open:
        out["additionalProperties"] = False
    return out


def schema_text() -> str:
    """The schema as ``docs/timeline.schema.json`` holds it (``tools/timeline-schema``)."""
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


# -- events and timelines -----------------------------------------------------------------------


def stable(value: Any, depth: int = 0) -> Any:
    """A JSON-able, run-independent rendering of task arguments and results."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return format_time(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, dt.date | dt.time | dt.timedelta | decimal.Decimal | uuid.UUID):
        return str(value)
    if depth > 6:
        return "…"
    if isinstance(value, dict):
        return {str(k): stable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [stable(v, depth + 1) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    text = repr(value)
    if " at 0x" in text:  # default object repr: the address changes every run
        return f"<{type(value).__module__}.{type(value).__qualname__}>"
    return text


BRIEF_KEYS = 12
BRIEF_CHARS = 120


def brief(value: Any) -> Any:
    """A task's return value as the timeline keeps it: stable and small, yet recognisable —
    a mapping keeps its first keys (an error-shaped ``{"success": False, ...}`` stays one)."""
    rendered = stable(value)
    if not isinstance(rendered, dict):
        return _short(rendered)
    out = {}
    for i, (key, item) in enumerate(rendered.items()):
        if i == BRIEF_KEYS:
            out["…"] = f"{len(rendered) - BRIEF_KEYS} more keys"
            break
        out[key] = _short(item)
    return out


def _short(value: Any) -> Any:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if len(text) <= BRIEF_CHARS:
        return value
    shown = value if isinstance(value, str) else text
    return shown[: BRIEF_CHARS - 1] + "…"


def format_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        body = {"t": format_time(self.at), "kind": self.kind}
        body.update({k: stable(v) for k, v in self.data.items()})
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


class Timeline:
    """An append-only list of events (the driver appends in virtual-time order)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, at: dt.datetime, kind: str, **data: Any) -> Event:
        event = Event(at, kind, data)
        self.events.append(event)
        return event

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def of(self, *kinds: str, **match: Any) -> list[Event]:
        """Events of the given kinds whose fields equal ``match``."""
        return [
            e
            for e in self.events
            if (not kinds or e.kind in kinds) and all(e.data.get(k) == v for k, v in match.items())
        ]

    def lines(self) -> Iterator[str]:
        for event in self.events:
            yield event.to_json()

    def dumps(self) -> str:
        return "".join(line + "\n" for line in self.lines())

    @classmethod
    def loads(cls, lines: Iterable[str]) -> Timeline:
        """A timeline read back from its JSON Lines: values as JSON has them (times in fields
        stay strings); dumping it again gives the same lines."""
        timeline = cls()
        for line in lines:
            if not line.strip():
                continue
            body = json.loads(line)
            at = dt.datetime.fromisoformat(body.pop("t").replace("Z", "+00:00"))
            timeline.events.append(Event(at, body.pop("kind"), body))
        return timeline

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.dumps(), encoding="utf-8")
        return path


@dataclass(frozen=True)
class Divergence:
    line: int  # 1-based
    expected: str | None
    actual: str | None
    context: list[str]


def first_divergence(
    expected: Iterable[str], actual: Iterable[str], context: int = 3
) -> Divergence | None:
    """The first line where two timelines differ, with the lines before it (for ``gate``)."""
    exp, act = list(expected), list(actual)
    for i in range(max(len(exp), len(act))):
        a = exp[i] if i < len(exp) else None
        b = act[i] if i < len(act) else None
        if a != b:
            return Divergence(i + 1, a, b, exp[max(0, i - context) : i])
    return None
