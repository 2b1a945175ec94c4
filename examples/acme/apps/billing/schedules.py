"""The recurring jobs, kept in code so every environment has the same ones.

Run on every ``migrate`` (post_migrate). Existing rows get their function and timing updated,
but their ``next_run`` is left alone: a deploy must not move or skip tonight's renewals.
"""

import datetime
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule

NIGHTLY_RENEWALS_AT = datetime.time(4, 0)  # New York time, after the day's signups settle
WEEKLY_DIGEST_CRON = "0 9 * * 1"  # Mondays 09:00 New York time


def next_local_time(at, now=None):
    """The next ``at`` wall-clock time in the project's time zone, strictly after ``now``."""
    zone = ZoneInfo(settings.TIME_ZONE)
    now = (now or timezone.now()).astimezone(zone)
    candidate = datetime.datetime.combine(now.date(), at, tzinfo=zone)
    if candidate <= now:
        candidate = datetime.datetime.combine(
            now.date() + datetime.timedelta(days=1), at, tzinfo=zone
        )
    return candidate


def next_cron_time(expression, now=None):
    zone = ZoneInfo(settings.TIME_ZONE)
    now = (now or timezone.now()).astimezone(zone)
    return croniter(expression, now).get_next(datetime.datetime)


def _upsert(name, first_run, **fields):
    defaults = {"repeats": -1, **fields}
    Schedule.objects.update_or_create(
        name=name,
        defaults=defaults,
        create_defaults={**defaults, "next_run": first_run},
    )


def register_schedules():
    _upsert(
        "nightly-renewals",
        next_local_time(NIGHTLY_RENEWALS_AT),
        func="apps.billing.tasks.renew_due_subscriptions",
        schedule_type=Schedule.DAILY,
    )
    _upsert(
        "weekly-digest",
        next_cron_time(WEEKLY_DIGEST_CRON),
        func="apps.billing.tasks.send_weekly_digest",
        schedule_type=Schedule.CRON,
        cron=WEEKLY_DIGEST_CRON,
    )
    _upsert(
        "charge-retry-sweep",
        timezone.now(),
        func="apps.billing.tasks.retry_failed_charges",
        schedule_type=Schedule.MINUTES,
        minutes=30,
    )


def register_reconciliation():
    """The hourly Stripe reconciliation (only where ACME_CHARGE_RECONCILIATION is on)."""
    Schedule.objects.get_or_create(
        name="charge-reconciliation",
        defaults={
            "func": "apps.billing.tasks.reconcile_charges",
            "schedule_type": Schedule.HOURLY,
            "repeats": -1,
        },
    )
