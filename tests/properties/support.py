"""Shared pieces of the stateful tests: a virtual clock, a savepoint per example, and rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from django.db import transaction
from hypothesis import settings

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def machine_settings() -> settings:
    """Examples and steps of the loaded profile, scaled down: each step or example talks to
    PostgreSQL (state machines, simulations)."""
    current = settings.default
    return settings(
        current,
        max_examples=max(8, current.max_examples // 4),
        stateful_step_count=current.stateful_step_count,
    )


class Sandbox:
    """Everything one state-machine example does is rolled back, under a stopped clock."""

    def __init__(self, start: dt.datetime = START) -> None:
        self._travel = time_machine.travel(start, tick=False)
        self.clock = self._travel.start()
        self._sid = transaction.savepoint()

    def advance(self, delta: dt.timedelta) -> None:
        self.clock.shift(delta)

    def close(self) -> None:
        transaction.savepoint_rollback(self._sid)
        self._travel.stop()


def service_rows(suffix: str = "prop") -> Any:
    """A customer, a Virtualmin server and a hosting service on it."""
    from django.utils import timezone

    from apps.customers.models import Customer
    from apps.provisioning.models import HostingService, VirtualminServer

    now = timezone.now()
    customer = Customer.objects.create(
        name="Prop Erty",
        email=f"{suffix}@example.ro",
        created_at=now,
        stripe_customer_id="",
        stripe_payment_method_id="pm_card_visa",
    )
    server = VirtualminServer.objects.create(
        name=f"vm-{suffix}",
        hostname="vm.prop.test",
        api_port=10000,
        scheme="http",
        username="admin",
        password="prop-secret",
    )
    return HostingService.objects.create(
        customer=customer,
        server=server,
        domain=f"{suffix}.ro",
        username=suffix[:8],
        created_at=now,
        updated_at=now,
    )
