"""A DAILY schedule at 03:30 local — the time the spring-forward night in Europe/Bucharest skips.

The reference platform ran a cleanup at 03:30 until the harness showed that Django-Q2's DAILY
arithmetic keeps the shifted 04:30 for good after 29 March 2026. The platform moved; this
fixture keeps the case alive so ``tests/scenarios/dst-spring-forward.toml`` still proves the
schedule-adherence checker catches it. Created the way the platform creates its schedules.
"""

from __future__ import annotations

from django_q.models import Schedule

from apps.common.schedules import ScheduleSpec, upsert_schedule

NAME = "fixture-daily-0330"


def schedule_at_0330() -> str:
    return upsert_schedule(
        ScheduleSpec(
            name=NAME,
            func="tests.harness.sample_tasks.tick",
            schedule_type=Schedule.DAILY,
            at="03:30",
        )
    )


def cron_schedules(crons: dict[str, str], func: str = "tests.harness.sample_tasks.tick") -> int:
    """CRON rows as PRAHO's setup makes them (``schedule()`` with a cron string, no next_run:
    django-q2 ≥ 1.8 computes it on save)."""
    from django_q.tasks import schedule

    for name, cron in crons.items():
        schedule(func, name=name, schedule_type=Schedule.CRON, cron=cron, repeats=-1)
    return len(crons)
