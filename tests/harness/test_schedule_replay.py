"""30-day replays: every schedule type fires when django-q2's rules say it must.

Expected fire times are computed here independently of the harness — wall-clock slots with
zoneinfo, cron slots with croniter, and the scheduler's 30-second guard grid with plain
arithmetic — across the Europe/Bucharest DST changes and month ends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from django_q.models import Schedule
from django_q.tasks import schedule

from harness import ClusterSpec, Simulation

pytestmark = pytest.mark.django_db(transaction=True)

TZ = ZoneInfo("Europe/Bucharest")
FUNC = "tests.harness.sample_tasks.tick"
GRID = timedelta(seconds=30)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ).astimezone(UTC)


def fire_time(slot: datetime, start: datetime) -> datetime:
    """The first scheduler pass strictly after ``slot`` on the grid start + 30 s·k (k ≥ 1)."""
    k = max(1, int((slot - start) // GRID) + 1)
    return start + GRID * k


def wall_clock_slots(first_local: datetime, step: timedelta, end: datetime) -> list[datetime]:
    out, t = [], first_local
    while t.astimezone(UTC) < end:
        out.append(t.astimezone(UTC))
        t = (t.replace(tzinfo=None) + step).replace(tzinfo=TZ)  # same wall time, new offset
    return out


def fixed_slots(first: datetime, step: timedelta, end: datetime) -> list[datetime]:
    out, t = [], first
    while t < end:
        out.append(t)
        t += step
    return out


WINDOWS = {
    # start (local midnight), a month end inside it, the fixed-interval schedules to include.
    # MINUTES and HOURLY are pure UTC arithmetic (no DST correction), so the dense hourly
    # schedule runs in one window only; both windows cross a DST change and a month end.
    "spring-forward": (local(2026, 3, 15), (2026, 3, 31, 9, 0), {"minutes": 240, "hourly": True}),
    "fall-back": (local(2026, 10, 10), (2026, 10, 31, 9, 0), {"minutes": 720, "hourly": False}),
}


@pytest.mark.parametrize("window", sorted(WINDOWS))
def test_thirty_days_of_every_schedule_type(window: str) -> None:
    start, month_end, fixed = WINDOWS[window]
    end = start + timedelta(days=30)
    expected: dict[str, list[datetime]] = {}
    # save_limit 0: fire times do not depend on result pruning, which would load up to 250 rows
    # per save here and double the test's time.
    spec = ClusterSpec(workers=2, retry=600, catch_up=False, save_limit=0)
    with Simulation(start, [spec], seed=3) as sim:
        first = start + timedelta(minutes=7)
        every = fixed["minutes"]
        schedule(
            FUNC,
            "minutes",
            name=f"minutes-{every}",
            schedule_type=Schedule.MINUTES,
            minutes=every,
            next_run=first,
        )
        expected[f"minutes-{every}"] = fixed_slots(first, timedelta(minutes=every), end)
        if fixed["hourly"]:
            schedule(FUNC, "hourly", name="hourly", schedule_type=Schedule.HOURLY, next_run=first)
            expected["hourly"] = fixed_slots(first, timedelta(hours=1), end)
        daily_first = datetime(
            start.astimezone(TZ).year,
            start.astimezone(TZ).month,
            start.astimezone(TZ).day,
            2,
            0,
            tzinfo=TZ,
        ) + timedelta(days=1)
        schedule(
            FUNC, "daily", name="daily-0200", schedule_type=Schedule.DAILY, next_run=daily_first
        )
        expected["daily-0200"] = wall_clock_slots(daily_first, timedelta(days=1), end)
        weekly_first = daily_first.replace(hour=9)
        while weekly_first.weekday() != 0:
            weekly_first += timedelta(days=1)
        schedule(
            FUNC,
            "weekly",
            name="weekly-mon-0900",
            schedule_type=Schedule.WEEKLY,
            next_run=weekly_first,
        )
        expected["weekly-mon-0900"] = wall_clock_slots(weekly_first, timedelta(days=7), end)
        monthly_first = datetime(*month_end, tzinfo=TZ)
        schedule(
            FUNC,
            "monthly",
            name="monthly-eom",
            schedule_type=Schedule.MONTHLY,
            next_run=monthly_first,
        )
        expected["monthly-eom"] = [monthly_first.astimezone(UTC)]  # next one is past the window
        once_at = start + timedelta(days=12, hours=5, minutes=3)
        schedule(FUNC, "once", name="once", schedule_type=Schedule.ONCE, next_run=once_at)
        expected["once"] = [once_at]
        schedule(
            FUNC, "cron", name="cron-weekdays-0900", schedule_type=Schedule.CRON, cron="0 9 * * 1-5"
        )

        sim.run_until(end)

        fired: dict[str, list[datetime]] = {}
        for event in sim.timeline.of("schedule.fired"):
            fired.setdefault(event.data["schedule"], []).append(event.at)
        slots: dict[str, list[datetime]] = {}
        for event in sim.timeline.of("schedule.fired"):
            slots.setdefault(event.data["schedule"], []).append(event.data["slot"])

    for name, expected_slots in expected.items():
        assert slots[name] == expected_slots, name
        assert fired[name] == [fire_time(s, start) for s in expected_slots], name
    # CRON is evaluated by django-q2 from the pass time in local time: walk croniter the same way.
    cron_fires = []
    base = start.astimezone(TZ)  # Schedule.save() computes the first next_run at creation
    slot = croniter("0 9 * * 1-5", base).get_next(datetime)
    while slot.astimezone(UTC) < end:
        fire = fire_time(slot.astimezone(UTC), start)
        cron_fires.append(fire)
        slot = croniter("0 9 * * 1-5", fire.astimezone(TZ)).get_next(datetime)
    assert fired["cron-weekdays-0900"] == cron_fires
    # The local wall time really is kept across the DST change.
    assert {s.astimezone(TZ).hour for s in slots["daily-0200"]} == {2}
    assert len({s.astimezone(TZ).utcoffset() for s in slots["daily-0200"]}) == 2
    # Every fired schedule ran its task.
    runs = sum(len(v) for v in fired.values())
    assert len(sim.timeline.of("task.finished", outcome="ok")) == runs
