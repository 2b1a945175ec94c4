"""The run's record: events at virtual times, encoded as byte-stable JSON Lines.

One line per event: ``{"t": "<UTC ISO, µs>", "kind": "<what>", ...}`` with sorted keys, compact
separators and no floats from wall clocks — so the same scenario and seed give the same bytes,
and a golden file can be diffed line by line (:func:`first_divergence`).

Event kinds (fields in brackets):

* ``schedule.fired`` [schedule, func, task, slot, cluster]
* ``task.enqueued`` [task, func, args, kwargs, queue, group, during] (``during: "migrate"``: a
  broker row a data migration left, taken over at the start)
* ``task.rolledback`` [task, cluster] — an enqueue of a scheduler pass that failed, undone with
  its transaction (ORM broker)
* ``task.claimed`` [task, func, cluster, lock_until, redelivery]
* ``task.started`` [task, func, cluster, attempt, timeout]
* ``task.finished`` [task, func, cluster, attempt, outcome ok|failed|timeout, error, returned]
  (``returned``: what the body returned, :func:`brief`; absent when it returned None)
* ``task.slept`` [task, attempt, seconds, calls] — virtual sleeps of the body (part of its
  duration)
* ``task.logged`` [task, func, attempt, counts, records] — WARNING+ records the body logged
  (counts per level; the first five as [level, logger, message])
* ``task.acked`` / ``task.discarded`` [task, queue] (``discarded``: bad signature)
* ``task.killed`` [task, func, cluster, attempt] (its cluster went down while it ran)
* ``cluster.down`` / ``cluster.up`` [cluster]
* ``http.call`` [fake, operation, key, status, effect, fault, task, attempt]
* ``load.called`` [load, call, args, kwargs, outcome returned|raised|stopped, error, returned,
  logged, records, slept] — one load arrival and what came of it
* ``startup.ready`` [app, whole] — an app's ``ready()`` redone at the virtual start (its start-up
  database work; ``whole``: the database block had cut it short)
* ``lock.refused`` / ``lock.waited`` [key, task, holder] — an advisory lock another running
  attempt holds (harness.sim.locks)
* ``finding`` [finding, ...] — something that must fail the run (a scheduler pass that raised,
  a result that could not be saved, a watchdog stop, a refused connection, a per-process lock)
* ``run.stopped`` [reason watchdog|runaway|interrupted, stopped, signal] — the last event of a
  run that ended early
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
