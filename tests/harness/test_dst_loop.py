"""The conditions under which django-q2's catch-up loop (catch_up off) does not end on a
fall-back night, and what the watchdog's message says about them (docs/findings.md).

The loop is django-q2 1.9.0's (unchanged in 1.11): ``next_run = croniter(cron,
localtime()).get_next()`` until ``next_run > localtime()``, both aware datetimes of one
``ZoneInfo``, compared by wall clock. Here it runs under a moving clock, with the installed
croniter, and the croniter 6.0.0 answer (measured with 6.0.0) is explained as well.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from croniter import croniter

from harness.sim.guards import explain_cron_loop, fall_back_after

Z = zoneinfo.ZoneInfo("Europe/Bucharest")


def at(h: int, m: int, s: int = 0, eet: bool = False) -> dt.datetime:
    """25 October 2026 in Bucharest; ``eet``: the second occurrence of the repeated hour."""
    return dt.datetime(2026, 10, 25, h, m, s, tzinfo=Z, fold=int(eet))


def spin(cron: str, fired: dt.datetime) -> tuple[int, dt.datetime]:
    """django-q2's loop under a real clock from ``fired``: seconds it spins, next_run it sets."""
    t, seconds = fired.astimezone(dt.UTC), 0
    while True:
        now = t.astimezone(Z)
        next_run = croniter(cron, now).get_next(dt.datetime)
        if next_run > now:  # what django-q2 compares
            return seconds, next_run
        t += dt.timedelta(seconds=1)
        seconds += 1


def test_the_fall_back_instant_is_found_only_in_the_first_occurrence():
    assert fall_back_after(at(3, 30, 30)) == at(3, 0, eet=True)
    assert fall_back_after(at(3, 30, 30, eet=True)) is None
    assert fall_back_after(at(2, 30)) is None  # not a repeated time
    assert fall_back_after(dt.datetime(2026, 10, 25, 3, 30, tzinfo=dt.UTC)) is None


@pytest.mark.parametrize(
    ("cron", "fired", "seconds", "next_run"),
    [
        ("30 3 * * *", at(3, 30, 30), 1770, at(3, 30, eet=True)),  # then fires a second time
        ("0 3 * * *", at(3, 0, 30), 3570, at(3, 0).replace(day=26)),
        ("*/10 * * * *", at(3, 50, 30), 570, at(3, 10, eet=True)),
        ("15 * * * *", at(3, 20), 2400, at(3, 15, eet=True)),
        ("30 3 * * *", at(3, 29, 30), 0, at(3, 30)),  # a match left in the first occurrence
        ("30 3 * * *", at(3, 30, 30, eet=True), 0, at(3, 30).replace(day=26)),
        ("0 */6 * * *", at(3, 30, 30), 0, at(6, 0)),  # no match in the repeated hour
    ],
)
def test_with_croniter_7_the_loop_spins_until_the_clock_falls_back(cron, fired, seconds, next_run):
    if _major() < 7:
        pytest.fail("this suite pins croniter 7 (pyproject); the 6.0.0 case is below")
    took, then = spin(cron, fired)
    assert (took, then, then.fold) == (seconds, next_run, next_run.fold)
    message = explain_cron_loop(
        fired, croniter(cron, fired).get_next(dt.datetime), fall_back_after(fired), then
    )
    if seconds:
        assert message is not None and "after now" in message
        minutes, rest = divmod(seconds, 60)
        took = f"{minutes} min {rest} s" if rest else f"{minutes} min"
        assert f"spins for {took}, until the clock falls back (03:00 EET)" in message
    else:
        assert message is None


def test_croniter_6_in_the_last_minute_answers_before_now_and_is_explained():
    """croniter 6.0.0 (PRAHO's lock) at 03:59:30 EEST answers 03:00 EEST for ``*/10``, earlier
    in absolute time too (measured with 6.0.0; at 03:50:30 it answers 04:00 EET: no loop)."""
    fired, answer = at(3, 59, 30), at(3, 0)
    message = explain_cron_loop(fired, answer, fall_back_after(fired), at(3, 10, eet=True))
    assert message is not None
    assert message.startswith("croniter answers 03:00 EEST, before now (03:59:30 EEST)")
    assert "spins for 0 min 30 s, until the clock falls back (03:00 EET)" in message
    assert explain_cron_loop(at(3, 50, 30), at(4, 0, eet=True), at(3, 0, eet=True), None) is None


def _major() -> int:
    from importlib.metadata import version

    return int(version("croniter").split(".")[0])
