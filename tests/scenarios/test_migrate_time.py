"""Nothing that ``migrate`` creates keeps real time (issue: PRAHO's post_migrate schedules).

PRAHO registers schedules in a ``post_migrate`` handler with ``next_run = now()``. Built into
the template database in real time, they carried today's date into an October window and never
fired, and no checker said so. Now the template is built without ``post_migrate``, the runner
sends it at the virtual start, tasks a data migration left queued run, and a row anchored by
another clock is a schedule-adherence finding.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo

import pytest
from django.db.models.signals import post_migrate

from harness.scenario import Scenario

pytestmark = pytest.mark.dbpath

HERE = "tests.fixture_apps.broken_tasks"
ZONE = "Europe/Bucharest"
START = dt.datetime(2026, 10, 20, 0, 0, tzinfo=zoneinfo.ZoneInfo(ZONE))  # not today


def _scenario(**fields) -> Scenario:
    return Scenario(
        name="migrate-time",
        start=START,
        time_zone=ZONE,
        duration=dt.timedelta(hours=3),
        seed=1,
        checks=["schedule-adherence", "lost-jobs"],
        **fields,
    )


@contextlib.contextmanager
def receiver(handler):
    uid = f"test-migrate-time-{id(handler)}"
    post_migrate.connect(handler, dispatch_uid=uid, weak=False)
    try:
        yield
    finally:
        post_migrate.disconnect(dispatch_uid=uid)


def _register_hourly(sender, **kwargs):
    """What PRAHO's InfrastructureConfig does: upsert on post_migrate, next_run = now()."""
    from django.utils import timezone
    from django_q.models import Schedule

    if sender.label != "django_q":
        return
    Schedule.objects.update_or_create(
        name="pm-hourly",
        defaults={"func": f"{HERE}.noop", "schedule_type": Schedule.HOURLY},
        create_defaults={
            "func": f"{HERE}.noop",
            "schedule_type": Schedule.HOURLY,
            "next_run": timezone.now(),
        },
    )


def test_a_post_migrate_schedule_fires_on_virtual_time(run_scenario):
    with receiver(_register_hourly):
        result = run_scenario(_scenario())
    assert result.ok, result.explain()
    row = next(r for r in result.schedules if r["name"] == "pm-hourly")
    assert row["next_run"] == START  # created at the virtual start, not at today's date
    fired = [e.at for e in result.timeline.of("schedule.fired", schedule="pm-hourly")]
    assert len(fired) == 3  # 00:00, 01:00 and 02:00 local, each on the first pass after it
    assert fired[0] - START < dt.timedelta(seconds=31)


def _register_at_real_time(sender, **kwargs):
    """A handler that anchors its schedule on another clock (here: a fixed real date)."""
    from django_q.models import Schedule

    if sender.label != "django_q":
        return
    Schedule.objects.create(
        name="pm-real-clock",
        func=f"{HERE}.noop",
        schedule_type=Schedule.DAILY,
        next_run=dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC),
    )


def test_a_schedule_anchored_by_another_clock_is_a_finding_not_silence(run_scenario):
    with receiver(_register_at_real_time):
        result = run_scenario(_scenario())
    verdict = result.verdict("schedule-adherence")
    assert not verdict.ok
    assert "pm-real-clock: first run 2026-11-28 11:00:00 EET is after" in verdict.message
    assert "never fires in this run" in verdict.message


def test_a_task_left_queued_by_migrate_runs_at_the_start(django_db_blocker):
    """A data migration's enqueue sits in the template locked at real time; the run adopts it."""
    from django.db import connection
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    from harness.infra.freshdb import fresh_database
    from harness.run import runner

    scenario = _scenario()
    payload = SignedPackage.dumps(
        {
            "id": "f" * 32,
            "name": "left-by-migrate",
            "func": f"{HERE}.noop",
            "args": (7,),
            "kwargs": {},
            "started": START,
            "group": None,
        }
    )
    with django_db_blocker.unblock(), fresh_database():
        OrmQ.objects.create(
            key="praho-cluster", payload=payload, lock=dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
        )
        result = runner.replay_here(scenario)
        assert OrmQ.objects.count() == 0
        connection.close()
    enqueued = result.timeline.of("task.enqueued", task="f" * 32)
    assert [e.data.get("during") for e in enqueued] == ["migrate"]
    finished = result.timeline.of("task.finished", task="f" * 32)
    assert [e.data["outcome"] for e in finished] == ["ok"]
    assert finished[0].at - START < dt.timedelta(seconds=1)
    assert result.ok, result.explain()
