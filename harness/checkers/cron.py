"""When a schedule is meant to fire: CRON across daylight-saving transitions (Vixie cron's rules),
and the scheduler pass and downtime facts every schedule check shares.

A cron expression names wall-clock times; a daylight-saving night has wall-clock times that do
not exist (spring forward) or exist twice (fall back). The intended fire times are the ones
Vixie cron (the cron of most Unix systems) gives, and what people mean when they write a cron:

* a **wildcard** entry — its minute or its hour field starts with ``*`` (``*/10 * * * *``,
  ``0 */6 * * *``) — follows absolute time: it fires at every instant whose local wall-clock time
  matches, so twice in a repeated hour (once in each occurrence) and not at all for wall-clock
  times that do not exist;
* a **fixed** entry (``30 3 * * *``, ``15 2 * * *``, ``0 1-5 * * *``) fires once per matching
  wall-clock time: in a repeated hour at the first occurrence only; a matching time that the
  spring-forward skips fires at the jump (the first instant after the gap), once however many of
  its times the gap swallowed.

:func:`expected_fires` computes these without stepping croniter across a transition: croniter
only enumerates *naive* wall-clock times (no zone, so no transition), and this module maps each
to instants with ``zoneinfo``. ``tests/harness/test_cron.py`` checks it against a brute-force
scan of every absolute minute for random expressions, zones and windows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from harness.sim.cluster import SCHEDULER_PERIOD

PASS = SCHEDULER_PERIOD  # one scheduler pass (30 s): the tolerance of a fire
# The longest interval between two runs of a fixed-period schedule type (django-q2's letters);
# MINUTES ("I") reads the row, CRON ("C") its expression, ONCE ("O") has none.
SCHEDULE_PERIODS = {
    "H": dt.timedelta(hours=1),
    "D": dt.timedelta(days=1),
    "W": dt.timedelta(days=7),
    "BW": dt.timedelta(days=14),
    "M": dt.timedelta(days=31),
    "BM": dt.timedelta(days=62),
    "Q": dt.timedelta(days=92),
    "Y": dt.timedelta(days=366),
}
UTC = dt.UTC
_MINUTE = dt.timedelta(minutes=1)


def is_wildcard(expr: str) -> bool:
    """Vixie cron's ``MIN_STAR | HR_STAR``: the minute or the hour field starts with ``*``."""
    fields = expr.split()
    return len(fields) >= 2 and (fields[0].startswith("*") or fields[1].startswith("*"))


def _naive_slots(expr: str, first: dt.datetime, last: dt.datetime) -> Iterator[dt.datetime]:
    """Naive wall-clock times matching ``expr`` in [first, last] (croniter without a zone)."""
    from croniter import croniter

    it = croniter(expr, first - dt.timedelta(seconds=1))
    while True:
        wall = it.get_next(dt.datetime)
        if wall > last:
            return
        yield wall


def wall_kind(wall: dt.datetime, zone: ZoneInfo) -> str:
    """``"unique"``, ``"repeated"`` (the wall time happens twice) or ``"skipped"`` (never)."""
    early = wall.replace(tzinfo=zone, fold=0)
    late = wall.replace(tzinfo=zone, fold=1)
    if early.utcoffset() == late.utcoffset():
        return "unique"
    back = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return "repeated" if back == wall else "skipped"


def jump_instant(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The instant a spring-forward gap containing ``wall`` ends (the clocks' jump), in UTC."""
    # With the offset from before the jump the skipped wall time lies after the jump, with the
    # offset from after it, before: the jump is in between, where the offset changes.
    lo = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)  # before the jump
    hi = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)  # after the jump
    if lo > hi:
        lo, hi = hi, lo
    before = lo.astimezone(zone).utcoffset()
    while hi - lo > dt.timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            break
        if mid.astimezone(zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi


def expected_fires(
    expr: str, zone: ZoneInfo | str, start: dt.datetime, end: dt.datetime
) -> list[dt.datetime]:
    """The instants (UTC) in ``(start, end]`` at which ``expr`` is meant to fire in ``zone``."""
    zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    wildcard = is_wildcard(expr)
    # A day of margin each side: a wall time near the window's edge may map inside it.
    first = start.astimezone(zone).replace(tzinfo=None) - dt.timedelta(days=1)
    last = end.astimezone(zone).replace(tzinfo=None) + dt.timedelta(days=1)
    fires: set[dt.datetime] = set()
    for wall in _naive_slots(expr, first, last):
        kind = wall_kind(wall, zone)
        if kind == "unique":
            fires.add(wall.replace(tzinfo=zone).astimezone(UTC))
        elif kind == "repeated":
            fires.add(wall.replace(tzinfo=zone, fold=0).astimezone(UTC))
            if wildcard:
                fires.add(wall.replace(tzinfo=zone, fold=1).astimezone(UTC))
        elif not wildcard:  # skipped: a fixed entry runs at the jump (once per gap)
            fires.add(jump_instant(wall, zone))
    return sorted(t for t in fires if start < t <= end)


def occurrence(instant: dt.datetime, zone: ZoneInfo) -> int:
    """0, or 1 when ``instant`` is in the second occurrence of a repeated wall-clock hour."""
    return instant.astimezone(zone).fold


def down(
    spec: Any, when: dt.datetime, grace: dt.timedelta = dt.timedelta()
) -> tuple[dt.datetime, dt.datetime] | None:
    """The downtime of a cluster covering ``when``; with ``grace``, also slots due before the
    first scheduler pass after the restart (that pass handles them as missed)."""
    for a, b in spec.downtime:
        if a <= when < b + grace:
            return a, b
    return None
