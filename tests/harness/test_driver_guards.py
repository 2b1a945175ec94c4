"""The driver inside a test transaction, errors django-q2 only logs, the watchdog, Redis."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from django_q.models import Schedule, Task
from django_q.tasks import async_task, schedule

from harness import ClusterSpec, Simulation, SimulationError


@pytest.mark.django_db  # inside pytest-django's test transaction
@pytest.mark.qsim(clusters=[ClusterSpec(retry=60, max_attempts=2)])
def test_runs_inside_the_test_transaction(qsim: Simulation) -> None:
    async_task("tests.harness.sample_tasks.add", 2, 3)
    async_task("tests.harness.sample_tasks.fail")
    async_task("tests.harness.sample_tasks.does_not_exist")
    qsim.advance(minutes=5)
    assert Task.objects.get(func="tests.harness.sample_tasks.add").result == 5
    assert Task.objects.filter(success=False).count() == 2
    qsim.assert_enqueued("tests.harness.sample_tasks.add", args=(2, 3))
    qsim.assert_not_enqueued("tests.harness.sample_tasks.add", args=(9, 9))
    with pytest.raises(AssertionError, match=r"enqueues of tests.harness.sample_tasks.add"):
        qsim.assert_enqueued("tests.harness.sample_tasks.add", args=(9, 9))


@pytest.mark.django_db
@pytest.mark.qsim()
def test_a_scheduler_pass_that_raises_fails_the_test(qsim: Simulation) -> None:
    # An args literal django-q2 cannot parse: the scheduler logs it and rolls back, every pass.
    schedule(
        "tests.harness.sample_tasks.tick",
        schedule_type=Schedule.HOURLY,
        name="broken",
        next_run=qsim.now() + timedelta(minutes=1),
    )
    Schedule.objects.filter(name="broken").update(args="(1, ")
    with pytest.raises(SimulationError, match="Could not create task from schedule"):
        qsim.advance(minutes=5)
    assert qsim.findings[0]["finding"] == "django-q error"


@pytest.mark.django_db
@pytest.mark.qsim(strict=False)
def test_a_failed_pass_rolls_back_the_enqueues_it_made_before_failing(qsim: Simulation) -> None:
    """The pass knows it failed from where django-q2 logged it (scheduler()'s own handler)."""
    for name, seconds in (("fine", 60), ("broken", 61)):  # due in one pass, "fine" first
        schedule(
            "tests.harness.sample_tasks.tick",
            schedule_type=Schedule.HOURLY,
            name=name,
            next_run=qsim.now() + timedelta(seconds=seconds),
        )
    Schedule.objects.filter(name="broken").update(args="(1, ")
    qsim.advance(seconds=150)  # the passes at 90 s and 120 s find both due, and fail
    enqueued = [e.data["task"] for e in qsim.timeline.of("task.enqueued")]
    assert enqueued and [e.data["task"] for e in qsim.timeline.of("task.rolledback")] == enqueued
    assert not qsim.timeline.of("schedule.fired") and not qsim.timeline.of("task.started")
    assert {f["finding"] for f in qsim.findings} == {"django-q error"}


@pytest.mark.django_db(transaction=True)
def test_watchdog_stops_an_endless_task() -> None:
    with Simulation(datetime(2026, 2, 1, tzinfo=UTC), [ClusterSpec()], watchdog=0.5) as sim:
        async_task("tests.harness.sample_tasks.spin")
        with pytest.raises(SimulationError) as info:
            sim.advance(minutes=1)
    message = str(info.value)
    assert "did not return within 0.5 s" in message and "tests.harness.sample_tasks.spin" in message
    finding = sim.findings[-1]
    assert finding["at"].startswith("2026-02-01T00:00:00")
    assert "sample_tasks.py" in finding["stack"] and "spin" in finding["stack"]


@pytest.mark.django_db
@pytest.mark.qsim(
    start="2026-10-25T00:00:00+00:00",  # 03:00 EEST on the fall-back night in Bucharest
    clusters=[ClusterSpec(catch_up=False)],
    watchdog=1,
)
def test_a_hung_scheduler_fails_the_test_with_the_verdicts_words(qsim: Simulation) -> None:
    """The same sentence as the driver-findings verdict of a replay (harness.record.findings)."""
    from zoneinfo import ZoneInfo

    from harness.record.findings import describe

    schedule(
        "tests.harness.sample_tasks.tick",
        name="at-0330",
        schedule_type=Schedule.CRON,
        cron="30 3 * * *",
    )
    with pytest.raises(SimulationError) as info:
        qsim.advance(hours=1)
    assert str(info.value) == describe(qsim.stopped, ZoneInfo("Europe/Bucharest"))
    assert "schedule 'at-0330'" in str(info.value) and "catch_up off" in str(info.value)
    assert qsim.now() == datetime(2026, 10, 25, 0, 30, 30, tzinfo=UTC)  # the run ends there
    qsim.advance(hours=1)  # and stays there
    assert qsim.now() == datetime(2026, 10, 25, 0, 30, 30, tzinfo=UTC)


@pytest.mark.dbpath
@pytest.mark.django_db(transaction=True)
def test_redis_broker_variant_runs_tasks_once_without_redelivery(settings, redis_url) -> None:
    import redis
    from django_q.conf import Conf

    url = redis_url
    client = redis.from_url(url)
    name = f"harness-test-{os.getpid()}"
    client.delete(f"django_q:{name}:q")
    old = Conf.REDIS
    Conf.REDIS = url
    try:
        with Simulation(
            datetime(2026, 2, 1, tzinfo=UTC), [ClusterSpec(name=name, retry=60)], broker="redis"
        ) as sim:
            async_task("tests.harness.sample_tasks.add", 1, 1, cluster=name)
            async_task("tests.harness.sample_tasks.fail", cluster=name)
            sim.advance(minutes=10)
    finally:
        Conf.REDIS = old
        client.delete(f"django_q:{name}:q")
    finished = [e.data["outcome"] for e in sim.timeline.of("task.finished")]
    assert sorted(finished) == ["failed", "ok"]  # at-most-once: the failure never comes back
    assert not sim.timeline.of("task.claimed", redelivery=True)
