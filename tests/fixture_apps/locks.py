"""A periodic charge run guarded by a lock, three ways (tests/scenarios/test_locks.py).

Every 5 minutes a schedule starts ``charge_open_invoices``; a run lasts 8 minutes, so runs
overlap. The run charges every open invoice (it never marks them paid: the lock alone keeps
runs apart), with a fresh idempotency key per run. With a lock every worker process shares, the
runs at :05, :15 and :25 find it held: each invoice is charged 3 times in half an hour. With a
lock that lives in one process (LocMemCache) or nowhere (DummyCache), 6 times.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django_q.models import Schedule
from django_q.tasks import schedule

HERE = "tests.fixture_apps.locks"
INVOICES = 2


def _charge(invoice: int, run: str) -> None:
    import stripe

    client = stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=0,
    )
    client.v1.payment_intents.create(
        params={
            "amount": 1000,
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "off_session": True,
            "metadata": {"invoice_id": str(invoice)},
        },
        options={"idempotency_key": f"{run}-{invoice}"},
    )


def charge_open_invoices(lock_cache: str = "default") -> dict[str, Any]:
    cache = caches[lock_cache]
    if not cache.add("charge-run", "held", timeout=3600):
        return {"skipped": "another run holds the lock"}
    try:
        run = uuid.uuid4().hex[:8]
        for invoice in range(1, INVOICES + 1):
            _charge(invoice, run)
        return {"charged": INVOICES}
    finally:
        cache.delete("charge-run")


def charge_with_advisory_lock() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [4242])
        if not cursor.fetchone()[0]:
            return {"skipped": "another run holds the lock"}
        try:
            run = uuid.uuid4().hex[:8]
            for invoice in range(1, INVOICES + 1):
                _charge(invoice, run)
            return {"charged": INVOICES}
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [4242])


_HELD: set[str] = set()  # a lock "service" shared by every process (a stand-in for Redis)


@contextlib.contextmanager
def project_lock(name: str) -> Iterator[bool]:
    """A project's own lock helper (registered with [locks] helpers)."""
    if name in _HELD:
        yield False
        return
    _HELD.add(name)
    try:
        yield True
    finally:
        _HELD.discard(name)


def charge_with_project_lock() -> dict[str, Any]:
    with project_lock("charge-run") as acquired:
        if not acquired:
            return {"skipped": "another run holds the lock"}
        run = uuid.uuid4().hex[:8]
        for invoice in range(1, INVOICES + 1):
            _charge(invoice, run)
        return {"charged": INVOICES}


def every_five_minutes(func: str = "charge_open_invoices", lock_cache: str | None = None) -> None:
    kwargs = {} if lock_cache is None else {"lock_cache": lock_cache}
    schedule(
        f"{HERE}.{func}",
        name="charge-run",
        schedule_type=Schedule.MINUTES,
        minutes=5,
        repeats=-1,
        **kwargs,
    )
