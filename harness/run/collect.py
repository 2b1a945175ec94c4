"""Collecting the rows a project's invariants declared, while the run is live.

An invariant (:mod:`harness.checkers.invariants`) names rows of the project's models and when to
take them: ``end`` (the runner, once the run is over), ``daily`` (the runner stops at each local
midnight of the scenario's zone and takes them there: the state at that instant) or
``after:<glob>`` (the simulation's ``after_task`` hook, called once a task body ran, its writes
included). Rows are ordered by primary key and rendered with
:func:`harness.record.timeline.stable`, so the same scenario and seed give the same record; the
runner redacts configured secrets before the record keeps them (:func:`redacted`).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import zoneinfo
from typing import Any

from harness.checkers.custom import Chosen
from harness.checkers.invariants import Rows
from harness.record.run import redact
from harness.record.timeline import stable
from harness.sim.guards import guard_db


class Collector:
    """The declared collections of one run, and what they gathered (``data``)."""

    def __init__(self, chosen: list[Chosen], zone: zoneinfo.ZoneInfo) -> None:
        self.specs = [
            (c.name, key, spec) for c in chosen for key, spec in c.invariant.collect.items()
        ]
        self.data: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for name, key, _ in self.specs:
            self.data.setdefault(name, {})[key] = []
        self.zone = zone

    @property
    def daily(self) -> bool:
        return any(spec.when == "daily" for _, _, spec in self.specs)

    def install(self, sim: Any) -> None:
        """Be called after each task body, when an invariant collects after named tasks."""
        if any(spec.after for _, _, spec in self.specs):
            sim.after_task.append(self.after_task)

    def midnights(self, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
        """Each local midnight in (start, end] (none without a daily collection)."""
        if not self.daily:
            return []
        out = []
        day = start.astimezone(self.zone).date()
        while True:
            day += dt.timedelta(days=1)
            at = dt.datetime.combine(day, dt.time(), tzinfo=self.zone).astimezone(dt.UTC)
            if at > end:
                return out
            if at > start:
                out.append(at)

    def at_midnight(self, now: dt.datetime) -> None:
        self._take("daily", now)

    def at_end(self, now: dt.datetime) -> None:
        self._take("end", now)

    def after_task(self, func: str, task: str, attempt: int) -> None:
        from django.utils import timezone

        for name, key, spec in self.specs:
            if spec.after and fnmatch.fnmatchcase(func, spec.after):
                extra = {"task": task, "func": func, "attempt": attempt}
                self.data[name][key].append(_collect(spec, timezone.now(), extra))

    def _take(self, when: str, now: dt.datetime) -> None:
        for name, key, spec in self.specs:
            if spec.when == when:
                self.data[name][key].append(_collect(spec, now, {}))


def _collect(spec: Rows, at: dt.datetime, extra: dict[str, Any]) -> dict[str, Any]:
    """One collection: ``{"at", **extra, "rows"}``, or ``"error"`` when the query failed (the
    invariant's verdict says so; the run goes on)."""
    from django.apps import apps

    try:
        with guard_db():
            model = apps.get_model(spec.model)
            query = model._default_manager.filter(**spec.filter).order_by("pk")
            rows = [stable(row) for row in query.values(*spec.fields)]
    except Exception as exc:
        error = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        return {"at": at, **extra, "rows": [], "error": error}
    return {"at": at, **extra, "rows": rows}


def redacted(value: Any, secrets: list[tuple[str, str]]) -> Any:
    """``value`` with every configured secret inside a string replaced by its marker."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: redacted(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v, secrets) for v in value]
    return value
