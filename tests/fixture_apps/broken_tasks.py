"""Deliberately broken task code, one bug per checker (never in ``apps/``).

Each function is reached by dotted path from a scenario in ``tests/checkers``: a load arrival,
a setup step or an enqueued task.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task, schedule

logger = logging.getLogger(__name__)
HERE = "tests.fixture_apps.broken_tasks"


def noop(n: int = 0) -> dict[str, Any]:
    return {"success": True, "n": n}


def send_reminder(invoice_id: int) -> dict[str, Any]:
    """Takes no ``schedule`` argument (PRAHO's ``_send_payment_reminder``)."""
    return {"success": True, "invoice_id": invoice_id}


# -- lost-jobs: a queue that no cluster serves ----------------------------------------------------
def enqueue_to_unserved_cluster(n: int) -> str:
    return async_task(f"{HERE}.noop", n, cluster="reports")


# -- enqueue-contract: PRAHO's schedule= kwarg and a wrong dotted path ----------------------------
def enqueue_reminder_with_schedule(n: int) -> str:
    return async_task(f"{HERE}.send_reminder", n, schedule=timezone.now().isoformat())


def enqueue_wrong_path(n: int) -> str:
    return async_task("tests.fixture_apps.broken_tasks.provision_order_item", n)


# -- duplicate-effects: a charge without an idempotency key, retried after a lost response --------
def charge_without_key(invoice_id: int) -> dict[str, Any]:
    import stripe

    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=0,
    )
    intent = client.v1.payment_intents.create(
        params={
            "amount": 1999,
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "off_session": True,
            "metadata": {"invoice_id": str(invoice_id)},
        }
    )  # no idempotency key: a retry after a lost response charges again
    return {"success": True, "intent": intent.id}


def enqueue_charge(n: int) -> str:
    return async_task(f"{HERE}.charge_without_key", n)


def charge_with_own_metadata(subscription_id: int) -> dict[str, Any]:
    """Another team's convention: the business fact is ``metadata[subscription]``."""
    import stripe

    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=0,
    )
    intent = client.v1.payment_intents.create(
        params={
            "amount": 900,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "off_session": True,
            "metadata": {"subscription": str(subscription_id)},
        }
    )  # no idempotency key either: a retry after a lost response charges again
    return {"success": True, "intent": intent.id}


def enqueue_own_metadata_charge(n: int) -> str:
    return async_task(f"{HERE}.charge_with_own_metadata", n)


# -- schedule-adherence: a DAILY schedule anchored at whatever time setup ran ---------------------
def schedule_daily_at_creation() -> None:
    schedule(f"{HERE}.noop", name="fixture-daily-report", schedule_type=Schedule.DAILY)


# -- retry-discipline: a task that always fails, redelivered forever ------------------------------
def always_fails(n: int) -> None:
    raise RuntimeError(f"upstream refused job {n}")


def enqueue_always_fails(n: int) -> str:
    return async_task(f"{HERE}.always_fails", n)


def enqueue_slow(n: int) -> str:
    return async_task(f"{HERE}.noop", n)


# -- queue-bound: a task that fans out into two copies of itself ----------------------------------
def fan_out(depth: int) -> int:
    if depth > 0:
        async_task(f"{HERE}.fan_out", depth - 1)
        async_task(f"{HERE}.fan_out", depth - 1)
    return depth


def start_fan_out(depth: int) -> str:
    return async_task(f"{HERE}.fan_out", depth)


# -- secrets: a task that logs and returns its API key --------------------------------------------
def leaky(n: int) -> dict[str, Any]:
    logger.warning(f"calling the payment API with {settings.STRIPE_SECRET_KEY}")
    return {"success": True, "auth": f"Bearer {settings.STRIPE_SECRET_KEY}"}


def enqueue_leaky(n: int) -> str:
    return async_task(f"{HERE}.leaky", n)


# -- audit: a task that fails without an audit row ------------------------------------------------
def unaudited_failure(n: int) -> None:
    raise ValueError(f"order {n} could not be booked")


def enqueue_unaudited(n: int) -> str:
    return async_task(f"{HERE}.unaudited_failure", n)


# -- driver-findings: a schedule whose args the scheduler cannot parse ----------------------------
def schedule_with_bad_args() -> None:
    Schedule.objects.create(
        func=f"{HERE}.noop",
        name="fixture-bad-args",
        args="((1,",
        schedule_type=Schedule.MINUTES,
        minutes=5,
        next_run=timezone.now(),
    )


# -- enqueue-contract at setup: schedules whose first run lies beyond a short window ------------
def schedules_that_cannot_run() -> None:
    later = timezone.now() + timezone.timedelta(hours=6)
    Schedule.objects.create(
        func=f"{HERE}.provision_order_item",  # no such function
        name="fixture-missing-func",
        schedule_type=Schedule.DAILY,
        next_run=later,
    )
    Schedule.objects.create(
        func=f"{HERE}.send_reminder",
        name="fixture-unknown-kwarg",
        kwargs="invoice_id=7, schedule='2026-03-01'",  # send_reminder takes no schedule
        schedule_type=Schedule.DAILY,
        next_run=later,
    )


# -- the network guard: clients other than requests ---------------------------------------------
def call_out(n: int) -> dict[str, Any]:
    import smtplib
    import urllib.request

    errors = []
    try:
        urllib.request.urlopen("http://status.example.com/ping", timeout=5)
    except OSError as exc:
        errors.append(type(exc).__name__)
    try:
        smtplib.SMTP("198.51.100.7", 25, timeout=5)
    except OSError as exc:
        errors.append(type(exc).__name__)
    return {"errors": errors}


def enqueue_call_out(n: int) -> str:
    return async_task(f"{HERE}.call_out", n)


# -- quiet-failures: a task that catches its error, logs it and reports it in its result ---------
def quiet_failure(n: int) -> dict[str, Any]:
    try:
        raise ConnectionError(f"registrar timed out for order {n}")
    except ConnectionError as exc:
        logger.error("order %s not booked: %s", n, exc)
        return {"success": False, "error": str(exc)}


def enqueue_quiet_failure(n: int) -> str:
    return async_task(f"{HERE}.quiet_failure", n)
