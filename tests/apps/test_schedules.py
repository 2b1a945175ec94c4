"""Schedule setup: idempotent upsert, ``--check-existing``, aligned wall-clock times."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django_q.models import Schedule

from apps.common.schedules import ScheduleSpec, next_local_time, upsert_schedule

pytestmark = pytest.mark.django_db

BUCHAREST = zoneinfo.ZoneInfo("Europe/Bucharest")
EXPECTED = {
    "billing-daily-invoices",
    "billing-payment-retries",
    "common-cleanup-old-tasks",
    "customers-inactive-cleanup",
    "domains-expiration-check",
    "virtualmin-health-check",
    "virtualmin-retry-failed-jobs",
}


def _rows() -> list[tuple]:
    return list(
        Schedule.objects.order_by("name").values_list(
            "name", "func", "schedule_type", "minutes", "next_run", "cluster"
        )
    )


def test_setup_all_tasks_twice_changes_nothing():
    call_command("setup_all_tasks", stdout=io.StringIO())
    first = _rows()
    out = io.StringIO()
    call_command("setup_all_tasks", stdout=out)

    assert {r[0] for r in first} == EXPECTED
    assert _rows() == first  # same count, same next_run, same everything
    assert "Created" not in out.getvalue() and "Already exists" in out.getvalue()


def test_check_existing_skips_apps_that_have_schedules():
    call_command("setup_virtualmin_tasks", stdout=io.StringIO())
    Schedule.objects.filter(name="virtualmin-health-check").delete()
    out = io.StringIO()
    call_command("setup_all_tasks", "--check-existing", stdout=out)

    assert "[provisioning] Scheduled tasks already exist, skipping" in out.getvalue()
    names = set(Schedule.objects.values_list("name", flat=True))
    assert "virtualmin-health-check" not in names  # skipped, as asked
    assert EXPECTED - {"virtualmin-health-check"} == names
    call_command("setup_virtualmin_tasks", stdout=io.StringIO())  # without the flag: repaired
    assert "virtualmin-health-check" in set(Schedule.objects.values_list("name", flat=True))


def test_daily_invoices_first_run_is_the_next_0200_in_bucharest():
    setup_at = dt.datetime(2026, 3, 28, 15, 47, tzinfo=BUCHAREST)  # the afternoon before DST
    with time_machine.travel(setup_at, tick=False):
        call_command("setup_billing_tasks", stdout=io.StringIO())
    row = Schedule.objects.get(name="billing-daily-invoices")
    assert row.schedule_type == Schedule.DAILY
    assert row.next_run.astimezone(BUCHAREST) == dt.datetime(2026, 3, 29, 2, 0, tzinfo=BUCHAREST)
    # django-q2's own next step keeps 02:00 local across the DST change.
    following = row.calculate_next_run(row.next_run).astimezone(BUCHAREST)
    assert (following.date(), following.hour) == (dt.date(2026, 3, 30), 2)


def test_interval_schedules_start_at_the_next_boundary():
    with time_machine.travel(dt.datetime(2026, 5, 4, 10, 7, 30, tzinfo=BUCHAREST), tick=False):
        call_command("setup_virtualmin_tasks", stdout=io.StringIO())
    retry = Schedule.objects.get(name="virtualmin-retry-failed-jobs")
    health = Schedule.objects.get(name="virtualmin-health-check")
    assert (retry.schedule_type, retry.minutes) == (Schedule.MINUTES, 15)
    assert retry.next_run.astimezone(BUCHAREST).time() == dt.time(10, 15)
    assert health.next_run.astimezone(BUCHAREST).time() == dt.time(11, 0)


def test_changed_definition_is_updated_in_place():
    spec = ScheduleSpec(
        "common-x", "apps.common.tasks.cleanup_old_tasks", Schedule.DAILY, at="04:00"
    )
    assert upsert_schedule(spec) == "created"
    assert upsert_schedule(spec) == "already_exists"
    moved = ScheduleSpec("common-x", spec.func, Schedule.DAILY, at="05:30")
    assert upsert_schedule(moved) == "updated"
    row = Schedule.objects.get(name="common-x")
    assert row.next_run.astimezone(BUCHAREST).time() == dt.time(5, 30)
    assert Schedule.objects.filter(name="common-x").count() == 1


def test_next_local_time_is_strictly_after_now():
    at_two = dt.datetime(2026, 7, 1, 2, 0, tzinfo=BUCHAREST)
    assert next_local_time("02:00", at_two) == at_two + dt.timedelta(days=1)
    assert next_local_time("02:00", at_two - dt.timedelta(minutes=1)) == at_two


def test_priority_clusters_route_provisioning_and_billing(settings):
    settings.PRAHO_PRIORITY_CLUSTERS = True
    call_command("setup_all_tasks", stdout=io.StringIO())
    clusters = dict(Schedule.objects.values_list("name", "cluster"))
    assert clusters["virtualmin-health-check"] == "provisioning"
    assert clusters["billing-daily-invoices"] == "billing"
    assert clusters["domains-expiration-check"] is None
    settings.PRAHO_PRIORITY_CLUSTERS = False
    call_command("setup_all_tasks", stdout=io.StringIO())  # switching back updates the rows
    assert set(Schedule.objects.values_list("cluster", flat=True)) == {None}
