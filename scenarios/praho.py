"""Data and load for the reference platform (PRAHO), named by the shipped scenarios.

These are what a project writes once for its own scenarios: a setup that creates the rows the
platform needs (a Virtualmin server, customers, subscriptions, domains) and load functions a
``[[load]]`` entry calls at seeded arrival times (a new hosting order, …). Everything goes
through the platform's public code paths (its ``*_async`` wrappers), never around them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

VM_HOST = "vm1.praho.test"
VM_PORT = 10000
VM_USER = "admin"
VM_PASSWORD = "vm-Secret-9f3k2"


def _server() -> Any:
    from apps.provisioning.models import VirtualminServer

    server, _ = VirtualminServer.objects.get_or_create(
        name="vm1",
        defaults={
            "hostname": VM_HOST,
            "api_port": VM_PORT,
            "scheme": "http",
            "username": VM_USER,
            "password": VM_PASSWORD,
            "verify_tls": False,
        },
    )
    return server


def _local_date(value: str | None, default: dt.date) -> dt.date:
    return dt.date.fromisoformat(value) if value else default


def _customer(n: int, card: str, prefix: str) -> Any:
    from apps.customers.models import Customer

    now = timezone.now()
    return Customer.objects.create(
        name=f"Customer {prefix}{n}",
        email=f"{prefix}{n}@customers.praho.test",
        created_at=now,
        last_login_at=now,
        stripe_payment_method_id=card,
    )


def seed(
    customers: int = 0,
    declining: int = 0,
    billing_date: str | None = None,
    domains: int = 0,
    domains_expire_in_days: int = 20,
    active_services: bool = True,
    fakes: dict[str, Any] | None = None,
) -> dict[str, int]:
    """A Virtualmin server; ``customers`` paying and ``declining`` declining customers, each
    with a hosting service and a monthly subscription billed on ``billing_date`` (ISO, default
    the first of next month); ``domains`` auto-renewing domains expiring soon (also registered
    at the registrar fake, when the scenario mounts one)."""
    from apps.billing.models import Subscription
    from apps.domains.models import Domain
    from apps.provisioning.models import HostingService

    server = _server()
    now = timezone.now()
    first_next = (timezone.localdate().replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    bill_on = _local_date(billing_date, first_next)
    cards = ["pm_card_visa"] * customers + ["pm_card_chargeDeclined"] * declining
    for n, card in enumerate(cards, start=1):
        prefix = "pay" if card == "pm_card_visa" else "decl"
        customer = _customer(n, card, prefix)
        service = HostingService.objects.create(
            customer=customer,
            server=server,
            domain=f"{prefix}{n}.praho-shop.ro",
            username=f"{prefix}{n}",
            status=HostingService.Status.ACTIVE
            if active_services
            else HostingService.Status.PENDING,
            created_at=now,
            updated_at=now,
        )
        Subscription.objects.create(
            customer=customer,
            service=service,
            plan="Starter",
            amount_cents=1999,
            currency="eur",
            next_billing_date=bill_on,
            created_at=now,
        )
    owner = _customer(0, "pm_card_visa", "domains") if domains else None
    for n in range(1, domains + 1):
        domain = Domain.objects.create(
            customer=owner,
            name=f"brand{n}.ro",
            expires_at=now + dt.timedelta(days=domains_expire_in_days, hours=n),
        )
        if fakes and "registrar" in fakes:
            fakes["registrar"].add_domain(domain.name, domain.expires_at)
    return {"customers": len(cards), "domains": domains}


def new_order(n: int, plan: str = "Starter") -> str:
    """A new hosting order: customer, pending service and subscription, then provisioning is
    queued through the platform's own wrapper (one broker message per order)."""
    return _order(_customer(n, "pm_card_visa", "order"), f"order{n}", plan)


def reseller() -> Any:
    """The reseller customer (created on first use; a setup step can create it first, so its
    id, and with it its task group ``customer-<id>``, is known)."""
    from apps.customers.models import Customer

    found = Customer.objects.filter(email="reseller@customers.praho.test").first()
    if found is not None:
        return found
    now = timezone.now()
    return Customer.objects.create(
        name="Reseller Ltd",
        email="reseller@customers.praho.test",
        created_at=now,
        last_login_at=now,
        stripe_payment_method_id="pm_card_visa",
    )


def reseller_order(n: int, plan: str = "Starter") -> str:
    """Account ``n`` of one reseller's bulk order: every account belongs to the same customer
    (the tenant-burst scenario: 500 of these at 10:00)."""
    return _order(reseller(), f"reseller{n}", plan)


def legacy_import(n: int) -> list[str]:
    """One record of a bulk import from the legacy system (low-priority work)."""
    from apps.customers.tasks import import_legacy_customers_async

    record = {"email": f"legacy{n}@import.praho.test", "name": f"Legacy customer {n}"}
    return import_legacy_customers_async([record])


def _order(customer: Any, name: str, plan: str) -> str:
    from apps.billing.models import Subscription
    from apps.provisioning.models import HostingService
    from apps.provisioning.virtualmin_tasks import provision_virtualmin_account_async

    now = timezone.now()
    service = HostingService.objects.create(
        customer=customer,
        server=_server(),
        domain=f"{name}.praho-shop.ro",
        username=name,
        plan=plan,
        created_at=now,
        updated_at=now,
    )
    Subscription.objects.create(
        customer=customer,
        service=service,
        plan=plan,
        amount_cents=1999,
        currency="eur",
        next_billing_date=timezone.localdate() + dt.timedelta(days=30),
        created_at=now,
    )
    return provision_virtualmin_account_async(service.pk)
