"""Idempotent schedule setup: upsert ``django_q`` Schedule rows by name.

Why not the seed's bare ``schedule(...)``: it raises on a duplicate name, and PRAHO's
"create if absent" left changed definitions out of deployed databases forever, while DAILY
rows fired at whatever time setup happened to run. Here a :class:`ScheduleSpec` is the single
definition: a new row is created with ``django_q.tasks.schedule`` and a ``next_run`` aligned to
the intended wall-clock time (``at`` = local "HH:MM" in ``TIME_ZONE``); an existing row is
updated only when its definition differs. Running setup twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import schedule

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "already_exists"


@dataclass(frozen=True)
class ScheduleSpec:
    """What one schedule row must look like."""

    name: str
    func: str
    schedule_type: str
    minutes: int | None = None
    at: str | None = None  # local "HH:MM" for DAILY/WEEKLY
    cron: str | None = None
    cluster: str | None = None

    def fields(self) -> dict[str, object]:
        return {
            "func": self.func,
            "schedule_type": self.schedule_type,
            "minutes": self.minutes,
            "cron": self.cron,
            "cluster": self.cluster,
            "repeats": -1,
        }


def _local_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def next_local_time(at: str, now: dt.datetime) -> dt.datetime:
    """The next instant (strictly after ``now``) whose local wall-clock time is ``at``."""
    hour, minute = (int(part) for part in at.split(":"))
    zone = _local_zone()
    local_now = now.astimezone(zone)
    candidate = dt.datetime.combine(local_now.date(), dt.time(hour, minute), tzinfo=zone)
    if candidate <= local_now:
        candidate = dt.datetime.combine(
            local_now.date() + dt.timedelta(days=1), dt.time(hour, minute), tzinfo=zone
        )
    return candidate.astimezone(dt.UTC)


def first_run(spec: ScheduleSpec, now: dt.datetime) -> dt.datetime:
    """When a new row should first fire: the next aligned slot, never "right now"."""
    if spec.at is not None:
        return next_local_time(spec.at, now)
    if spec.schedule_type in (Schedule.MINUTES, Schedule.HOURLY):
        step = 60 if spec.schedule_type == Schedule.HOURLY else (spec.minutes or 1)
        local = now.astimezone(_local_zone()).replace(second=0, microsecond=0)
        minutes_today = local.hour * 60 + local.minute
        ahead = step - (minutes_today % step)
        return (local + dt.timedelta(minutes=ahead)).astimezone(dt.UTC)
    return now  # CRON rows compute their own next_run on save


def _aligned(spec: ScheduleSpec, row: Schedule) -> bool:
    if spec.at is None or row.next_run is None:
        return True
    local = row.next_run.astimezone(_local_zone())
    return f"{local.hour:02d}:{local.minute:02d}" == spec.at


def upsert_schedule(spec: ScheduleSpec) -> str:
    """Create or correct the row named ``spec.name``; return CREATED, UPDATED or UNCHANGED."""
    now = timezone.now()
    with transaction.atomic():
        row = Schedule.objects.select_for_update().filter(name=spec.name).first()
        if row is None:
            schedule(
                spec.func,
                name=spec.name,
                next_run=first_run(spec, now),
                **{k: v for k, v in spec.fields().items() if k != "func"},
            )
            return CREATED
        wanted = spec.fields()
        differs = any(getattr(row, key) != value for key, value in wanted.items())
        if not differs and _aligned(spec, row):
            return UNCHANGED
        for key, value in wanted.items():
            setattr(row, key, value)
        row.next_run = first_run(spec, now)
        row.save()
        return UPDATED


def upsert_all(specs: dict[str, ScheduleSpec]) -> dict[str, str]:
    """Upsert every spec; return ``{key: CREATED | UPDATED | UNCHANGED}`` (the seed's shape)."""
    return {key: upsert_schedule(spec) for key, spec in specs.items()}
