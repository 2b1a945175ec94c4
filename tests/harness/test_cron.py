"""CRON across DST: harness.checkers.cron against a brute-force scan of every absolute minute.

The strategy builds each cron field as a set of values and renders the expression from it, so
the brute force knows what the expression means without any cron parser: it looks at every
minute of the window, asks whether its local wall-clock time matches the sets, and applies the
rules (wildcard entries follow absolute time; fixed entries fire once per wall time, at the
first occurrence of a repeated hour and at the jump for a skipped one). ``expected_fires``
instead enumerates naive wall times with croniter and maps them to instants.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.checkers.cron import expected_fires, is_wildcard, jump_instant, wall_kind

UTC = dt.UTC
ZONES = (
    "Europe/Bucharest",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Europe/London",
    "America/Santiago",
    "Pacific/Chatham",  # a +12:45 offset
)


@cache
def transitions(zone: str) -> tuple[dt.datetime, ...]:
    """The instants in 2026 at which ``zone``'s UTC offset changes."""
    z = ZoneInfo(zone)
    found = []
    t = dt.datetime(2026, 1, 1, tzinfo=UTC)
    previous = t.astimezone(z).utcoffset()
    while t.year == 2026:
        t += dt.timedelta(minutes=15)
        offset = t.astimezone(z).utcoffset()
        if offset != previous:
            found.append(t)
            previous = offset
    return tuple(found)


def _field(draw, low: int, high: int, star_weight: bool = True) -> tuple[str, frozenset[int]]:
    kind = draw(st.sampled_from(["star", "step", "one", "range", "list", "range-step"]))
    everything = frozenset(range(low, high + 1))
    if kind == "star" and star_weight:
        return "*", everything
    if kind == "step":
        k = draw(st.integers(2, max(2, (high - low) // 2)))
        return f"*/{k}", frozenset(range(low, high + 1, k))
    if kind in ("one", "star"):
        n = draw(st.integers(low, high))
        return str(n), frozenset([n])
    if kind == "list":
        values = sorted(draw(st.sets(st.integers(low, high), min_size=2, max_size=4)))
        return ",".join(map(str, values)), frozenset(values)
    a = draw(st.integers(low, high - 1))
    b = draw(st.integers(a + 1, high))
    if kind == "range":
        return f"{a}-{b}", frozenset(range(a, b + 1))
    k = draw(st.integers(2, 5))
    return f"{a}-{b}/{k}", frozenset(range(a, b + 1, k))


@st.composite
def crons(draw):
    minute, minutes = _field(draw, 0, 59)
    hour, hours = _field(draw, 0, 23)
    dom, doms = ("*", None) if draw(st.booleans()) else _field(draw, 1, 31, star_weight=False)
    dow, dows = ("*", None) if draw(st.booleans()) else _field(draw, 0, 6, star_weight=False)
    expr = f"{minute} {hour} {dom} * {dow}"
    return expr, (minutes, hours, doms, dows)


@st.composite
def windows(draw):
    zone = draw(st.sampled_from(ZONES))
    moment = draw(st.sampled_from(transitions(zone)))
    # every window crosses its transition: it starts up to a day before, ends 1–12 h after
    start = moment - dt.timedelta(minutes=draw(st.integers(0, 24 * 60)))
    start += dt.timedelta(seconds=draw(st.sampled_from([0, 0, 17, 30])))
    end = moment + dt.timedelta(minutes=draw(st.integers(60, 12 * 60)))
    return zone, start, end


def _matches(wall: dt.datetime, fields) -> bool:
    minutes, hours, doms, dows = fields
    if wall.minute not in minutes or wall.hour not in hours:
        return False
    dow = (wall.weekday() + 1) % 7  # cron: 0 = Sunday
    if doms is not None and dows is not None:  # both restricted: either matches (cron's OR)
        return wall.day in doms or dow in dows
    return (doms is None or wall.day in doms) and (dows is None or dow in dows)


def brute_force(expr: str, fields, zone: str, start: dt.datetime, end: dt.datetime):
    z = ZoneInfo(zone)
    wildcard = is_wildcard(expr)
    fires = set()
    t = start.replace(second=0, microsecond=0)
    if t <= start:
        t += dt.timedelta(minutes=1)
    while t <= end:
        local = t.astimezone(z)
        wall = local.replace(tzinfo=None)
        if _matches(wall, fields) and (wildcard or local.fold == 0):
            fires.add(t)
        before = (t - dt.timedelta(minutes=1)).astimezone(z)
        if not wildcard and local.utcoffset() > before.utcoffset():  # the clocks jumped ahead
            skipped = before.replace(tzinfo=None) + dt.timedelta(minutes=1)
            while skipped < wall:
                if _matches(skipped, fields):
                    fires.add(t)
                    break
                skipped += dt.timedelta(minutes=1)
        t += dt.timedelta(minutes=1)
    return sorted(fires)


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(cron=crons(), window=windows())
def test_expected_fires_equal_a_minute_by_minute_scan(cron, window):
    expr, fields = cron
    zone, start, end = window
    assert expected_fires(expr, zone, start, end) == brute_force(expr, fields, zone, start, end)


BUCHAREST = ZoneInfo("Europe/Bucharest")


def _local(text: str) -> str:
    return [f"{t.astimezone(BUCHAREST):%m-%d %H:%M %Z}" for t in text]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # Fall back, 25 Oct 2026: 04:00 EEST → 03:00 EET, so 03:00–03:59 happens twice.
        ("30 3 * * *", ["10-25 03:30 EEST"]),  # fixed: once, at the first occurrence
        ("0 3 * * *", ["10-25 03:00 EEST"]),
        ("15 2 * * *", ["10-25 02:15 EEST"]),
        ("0 */6 * * *", ["10-25 06:00 EET"]),
        (
            "*/30 * * * *",  # wildcard: both occurrences of the repeated hour
            [
                "10-25 02:30 EEST",
                "10-25 03:00 EEST",
                "10-25 03:30 EEST",
                "10-25 03:00 EET",
                "10-25 03:30 EET",
                "10-25 04:00 EET",
            ],
        ),
    ],
)
def test_fall_back_in_bucharest(expr, expected):
    start = dt.datetime(2026, 10, 24, 21, 1, tzinfo=UTC)  # 00:01 EEST
    end = dt.datetime(2026, 10, 25, 4, 0, tzinfo=UTC)  # 06:00 EET
    got = _local(expected_fires(expr, BUCHAREST, start, end))
    if expr.startswith("*/30"):
        got = [g for g in got if "02:30" <= g[6:11] <= "04:00"]
    assert got == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # Spring forward, 29 Mar 2026: 03:00 EET → 04:00 EEST, so 03:xx does not exist.
        ("30 3 * * *", ["03-29 04:00 EEST"]),  # fixed: at the jump
        ("15 2 * * *", ["03-29 02:15 EET"]),
        ("0,30 3 * * *", ["03-29 04:00 EEST"]),  # two skipped times: one run at the jump
        ("*/30 3 * * *", []),  # wildcard: the times do not exist, nothing fires
    ],
)
def test_spring_forward_in_bucharest(expr, expected):
    start = dt.datetime(2026, 3, 28, 22, 1, tzinfo=UTC)  # 00:01 EET
    end = dt.datetime(2026, 3, 29, 2, 0, tzinfo=UTC)  # 05:00 EEST
    assert _local(expected_fires(expr, BUCHAREST, start, end)) == expected


def test_wall_kinds_and_the_jump():
    assert wall_kind(dt.datetime(2026, 3, 29, 3, 30), BUCHAREST) == "skipped"
    assert wall_kind(dt.datetime(2026, 10, 25, 3, 30), BUCHAREST) == "repeated"
    assert wall_kind(dt.datetime(2026, 10, 25, 4, 30), BUCHAREST) == "unique"
    jump = jump_instant(dt.datetime(2026, 3, 29, 3, 30), BUCHAREST)
    assert jump == dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # 02:00 → 02:30 on 4 Oct 2026
    assert wall_kind(dt.datetime(2026, 10, 4, 2, 15), lord_howe) == "skipped"
