"""The one validation of user tables: a key path in every message, unknown keys refused.

Scenario files (harness.scenario), the checkers' ``[expect.<name>]`` tables and fault plans
(harness.fakes.faults — in a scenario or a file of their own) are all read with
:class:`OptionsReader`, so a problem anywhere is one line of the same form,
``<source>: <key path>: <reason>``, raised as the caller's own error (``ScenarioError``,
``FaultPlanError``). Times are read once, by :func:`instant` and :func:`offset_or_instant`. A
leaf module: the fakes use it too, and they import nothing else of the harness.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from harness.durations import EXAMPLES, parse_duration, too_long
from harness.errors import HarnessError

APP_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*|\.[A-Za-z_]\w*)$")
"""``dotted.path:Name`` or ``dotted.path.Name``: a project's own fake, checker or callable."""

Error = Callable[[str, str, str], Exception]
"""(source, key path, reason) → the exception to raise."""

EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9900, 1, 1, tzinfo=dt.UTC)
"""Instants a user may name: every offset (at most 100 years) from them stays a datetime."""


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _default_error(source: str, where: str, reason: str) -> Exception:
    return HarnessError(f"{source}: {where}: {reason}" if where else f"{source}: {reason}")


class OptionsReader:
    """Reads one table with a key path for messages, and refuses keys nobody read."""

    def __init__(self, source: str, data: Any, where: str, error: Error | None = None) -> None:
        self.source, self.where = source, where
        self.error = error or _default_error
        if not isinstance(data, Mapping):
            self.fail(f"expected a table, got {show(data)}")
        self.data = dict(data)
        self.seen: set[str] = set()

    def path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.where}[{key}]"
        return f"{self.where}.{key}" if self.where else key

    def fail(self, reason: str, key: str | int | None = None) -> None:
        raise self.error(self.source, self.path(key) if key is not None else self.where, reason)

    def renamed(self, old: str, new: str) -> None:
        """Read key ``old`` as ``new`` for one release, saying so (a deprecated spelling:
        :mod:`harness.spellings`); both at once is a mistake."""
        if old not in self.data:
            return
        if new in self.data:
            self.fail(f"give {new} only ({old} is its old spelling)", old)
        from harness.spellings import deprecated

        deprecated(f"{self.source}: {self.path(old)}", self.path(new), stacklevel=4)
        self.data[new] = self.data.pop(old)

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
                self.fail(f"expected {names}, got {show(value)}", key)
        return value

    def integer(self, key: str, low: int, high: int | None = None, default: Any = None) -> Any:
        """An integer in ``[low, high]`` (``high`` None: no upper bound)."""
        value = self.get(key, None, default=default)
        if value is default:
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
            bound = f"[{low}, {high}]" if high is not None else f">= {low}"
            self.fail(f"expected an integer {bound}, got {show(value)}", key)
        return value

    def duration(self, key: str, default: Any = None, required: bool = False) -> Any:
        raw = self.get(key, None, default=None, required=required)
        if raw is None:
            return default
        value = parse_duration(raw)
        if value is None and too_long(raw):
            self.fail(f"{show(raw)} is longer than 100 years", key)
        if value is None:
            self.fail(f"{show(raw)} is not a duration like {EXAMPLES}", key)
        return value

    def instant(self, key: str | int, raw: Any, zone: str | None) -> dt.datetime:
        """``raw`` (at ``key``) as an aware instant; naive times are read in ``zone``."""
        try:
            return instant(raw, zone)
        except ValueError as exc:
            self.fail(str(exc), key)
            raise  # unreachable: fail raises

    def offset_or_instant(self, key: str | int, raw: Any, zone: str | None) -> Any:
        """``raw`` (at ``key``) as a duration from the start, or an aware instant."""
        try:
            return offset_or_instant(raw, zone)
        except ValueError as exc:
            self.fail(str(exc), key)
            raise  # unreachable: fail raises

    def table(self, key: str) -> OptionsReader:
        self.seen.add(key)
        return OptionsReader(self.source, self.data.get(key, {}), self.path(key), self.error)

    def nested(self, data: Any, where: str) -> OptionsReader:
        """A reader of ``data`` at ``where``, raising this reader's errors."""
        return OptionsReader(self.source, data, where, self.error)

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            self.fail("unknown key", unknown[0])


def instant(raw: Any, zone: str | None) -> dt.datetime:
    """An aware instant from a TOML date-time or an ISO-8601 string; a naive one is read in
    ``zone`` (an error without one). ``ValueError`` says why not."""
    if isinstance(raw, dt.datetime):
        value = raw
    elif isinstance(raw, str):
        try:
            value = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"{show(raw)} is not an ISO-8601 date-time") from None
    elif isinstance(raw, dt.date):
        value = dt.datetime.combine(raw, dt.time())
    else:
        raise ValueError(f"expected a date-time, got {show(raw)}")
    if value.tzinfo is None or value.utcoffset() is None:
        if zone is None:
            raise ValueError(f"{raw!s} has no UTC offset (and no time_zone says where it is)")
        value = value.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    if not EARLIEST.year < value.year < LATEST.year:  # checked before any zone arithmetic
        raise ValueError(f"{raw!s} is outside {EARLIEST.year + 1}–{LATEST.year - 1}")
    return value


def offset_or_instant(raw: Any, zone: str | None) -> dt.timedelta | dt.datetime:
    """A duration (an offset from a start) or an aware instant (:func:`instant`)."""
    if isinstance(raw, str):
        rel = parse_duration(raw)
        if rel is not None:
            return rel
        if too_long(raw):
            raise ValueError(f"{show(raw)} is longer than 100 years")
        try:
            dt.datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(
                f"{show(raw)} is neither a duration like {EXAMPLES} nor an ISO-8601 date-time"
            ) from None
    return instant(raw, zone)


def valid_cron(text: str) -> bool:
    from croniter import croniter

    try:
        return bool(croniter.is_valid(text))
    except Exception:
        return False
