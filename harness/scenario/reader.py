"""Reading one TOML table with a key path for messages: the public :class:`OptionsReader`.

Every scenario problem is one line, ``<file>: <key path>: <reason>``. A checker's ``options``
function receives an ``OptionsReader`` for its ``[expect.<name>]`` table: ``get`` (typed),
``duration`` (the one grammar), ``table``, ``fail``; keys nobody read are the scenario's error.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

from harness.durations import EXAMPLES, parse_duration, too_long
from harness.scenario.model import ScenarioError

_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")  # a module may be top-level
_COMMAND = re.compile(r"^[A-Za-z_][\w-]*$")
APP_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*|\.[A-Za-z_]\w*)$")
"""``dotted.path:Class`` or ``dotted.path.Class``: a project's own fake."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class OptionsReader:
    """Reads one table with a key path for messages, and refuses keys nobody read."""

    def __init__(self, source: str, data: Any, where: str) -> None:
        self.source, self.where = source, where
        if not isinstance(data, Mapping):
            self.fail(f"expected a table, got {_show(data)}")
        self.data = dict(data)
        self.seen: set[str] = set()

    def path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.where}[{key}]"
        return f"{self.where}.{key}" if self.where else key

    def fail(self, reason: str, key: str | int | None = None) -> None:
        raise ScenarioError(self.source, self.path(key) if key is not None else self.where, reason)

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, kind: Any, default: Any = None, required: bool = False) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                self.fail("is required", key)
            return default
        value = self.data[key]
        if kind is not None:
            kinds = kind if isinstance(kind, tuple) else (kind,)
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                names = " or ".join(k.__name__ for k in kinds)
                self.fail(f"expected {names}, got {_show(value)}", key)
        return value

    def duration(self, key: str, default: Any = None, required: bool = False) -> Any:
        raw = self.get(key, None, default=None, required=required)
        if raw is None:
            return default
        value = parse_duration(raw)
        if value is None and too_long(raw):
            self.fail(f"{_show(raw)} is longer than 100 years", key)
        if value is None:
            self.fail(f"{_show(raw)} is not a duration like {EXAMPLES}", key)
        return value

    def table(self, key: str) -> OptionsReader:
        self.seen.add(key)
        return OptionsReader(self.source, self.data.get(key, {}), self.path(key))

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            self.fail("unknown key", unknown[0])


EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9900, 1, 1, tzinfo=dt.UTC)
"""Instants a scenario may name: every offset (at most 100 years) from them stays a datetime."""


def _instant(r: OptionsReader, key: str, raw: Any, zone: str | None) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        value = raw
    elif isinstance(raw, str):
        try:
            value = dt.datetime.fromisoformat(raw)
        except ValueError:
            r.fail(f"{_show(raw)} is not an ISO-8601 date-time", key)
    elif isinstance(raw, dt.date):
        value = dt.datetime.combine(raw, dt.time())
    else:
        r.fail(f"expected a date-time, got {_show(raw)}", key)
    if value.tzinfo is None:
        if zone is None:
            r.fail(f"{raw} has no UTC offset and the scenario names no time_zone", key)
        value = value.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    if not EARLIEST.year < value.year < LATEST.year:  # checked before any zone arithmetic
        r.fail(f"{raw} is outside {EARLIEST.year + 1}–{LATEST.year - 1}", key)
    return value


def _offset_or_instant(r: OptionsReader, key: str, raw: Any, zone: str | None) -> Any:
    rel = parse_duration(raw) if isinstance(raw, str) else None
    if rel is not None:
        return rel
    if isinstance(raw, str) and too_long(raw):
        r.fail(f"{_show(raw)} is longer than 100 years", key)
    return _instant(r, key, raw, zone)


def _valid_cron(text: str) -> bool:
    from croniter import croniter

    try:
        return bool(croniter.is_valid(text))
    except Exception:
        return False
