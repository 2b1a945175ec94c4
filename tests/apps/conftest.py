"""Fixtures for the platform's tests: the fakes mounted through ``responses``, model factories,
an in-process runner for queued tasks, and a per-test credential scan (acceptance 5)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from django.conf import settings
from django.utils import timezone

VM_HOST = "vm1.test"
VM_PORT = 10000
VM_USER = "admin"
VM_PASSWORD = "secret-vm-Pa55"


class _Collect(logging.Handler):
    """Every record at any level: the raw message (our code must never put a secret in one) and
    the traceback as the configured handlers render it (through the redacting filter)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        from apps.common.logging import RedactingFilter

        text = record.getMessage()
        if record.exc_info or record.exc_text:
            rendered = logging.makeLogRecord(record.__dict__)
            RedactingFilter().filter(rendered)
            text += f" {rendered.exc_text}"
        self.lines.append(text)


def secrets_in_use() -> list[str]:
    return [
        VM_PASSWORD,
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_WEBHOOK_SECRET,
        settings.REGISTRAR_API_TOKEN,
    ]


def stored_texts() -> list[str]:
    """Everything the platform persisted that could carry an error text."""
    from django_q.models import Task

    from apps.billing.models import Payment, WebhookEvent
    from apps.common.models import AuditEvent
    from apps.domains.models import RenewalIntent
    from apps.provisioning.models import ProvisioningJob, VirtualminServer

    texts = [repr(t.result) + repr(t.args) + repr(t.kwargs) for t in Task.objects.all()]
    texts += [repr(e.details) for e in AuditEvent.objects.all()]
    texts += list(ProvisioningJob.objects.values_list("last_error", flat=True))
    texts += list(VirtualminServer.objects.values_list("last_health_error", flat=True))
    texts += list(Payment.objects.values_list("error", flat=True))
    texts += list(WebhookEvent.objects.values_list("error", flat=True))
    texts += list(RenewalIntent.objects.values_list("error", flat=True))
    return texts


@pytest.fixture(autouse=True)
def no_credentials_leak(request: pytest.FixtureRequest) -> Iterator[_Collect]:
    """After every test: no secret in its captured logs or in anything it stored."""
    handler = _Collect()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
        texts = list(handler.lines)
        if "django_db" in request.keywords or "db" in request.fixturenames:
            texts += stored_texts()
        for secret in secrets_in_use():
            leaks = [t for t in texts if secret and secret in t]
            assert not leaks, f"credential leaked: {leaks[0][:200]}"
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def clock() -> Callable[[], dt.datetime]:
    return timezone.now


@pytest.fixture
def ledger(clock: Callable[[], dt.datetime]) -> Any:
    from harness.fakes.ledger import Ledger

    return Ledger(clock)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def make_virtualmin(rsps: responses.RequestsMock, ledger: Any, plan: dict | None = None) -> Any:
    from harness.fakes.faults import FaultInjector, FaultPlan
    from harness.fakes.transport import mount_responses
    from harness.fakes.virtualmin import FakeVirtualmin

    faults = FaultInjector(FaultPlan.from_dict(plan), seed=1) if plan else None
    fake = FakeVirtualmin(ledger, timezone.now, faults, username=VM_USER, password=VM_PASSWORD)
    mount_responses(rsps, f"http://{VM_HOST}:{VM_PORT}", fake)
    return fake


@pytest.fixture
def virtualmin(rsps: responses.RequestsMock, ledger: Any) -> Any:
    return make_virtualmin(rsps, ledger)


@pytest.fixture
def server(db: None) -> Any:
    from apps.provisioning.models import VirtualminServer

    return VirtualminServer.objects.create(
        name="vm1",
        hostname=VM_HOST,
        api_port=VM_PORT,
        scheme="http",
        username=VM_USER,
        password=VM_PASSWORD,
    )


@pytest.fixture
def customer(db: None) -> Any:
    from apps.customers.models import Customer

    return Customer.objects.create(
        name="Ana Pop",
        email="ana@example.ro",
        created_at=timezone.now(),
        stripe_customer_id="cus_ana",
        stripe_payment_method_id="pm_card_visa",
    )


@pytest.fixture
def service(customer: Any, server: Any) -> Any:
    from apps.provisioning.models import HostingService

    now = timezone.now()
    return HostingService.objects.create(
        customer=customer,
        server=server,
        domain="ana-shop.ro",
        username="anashop",
        created_at=now,
        updated_at=now,
    )


def run_queued(limit: int = 50) -> list[dict[str, Any]]:
    """Run every task waiting in the ORM broker through django-q2's own worker and monitor
    (``django_q.tasks._sync``: the real execute-and-save path, in this process).

    The worker calls ``close_old_connections``, which closes a connection inside a test
    transaction: tests that use this need ``django_db(transaction=True)``."""
    from django_q.models import OrmQ, Task
    from django_q.tasks import _sync

    done: list[dict[str, Any]] = []
    for _ in range(limit):
        row = OrmQ.objects.order_by("id").first()
        if row is None:
            break
        pack = row.payload
        row.delete()
        task_id = _sync(pack)
        task = Task.objects.get(id=task_id)
        done.append({"func": task.func, "success": task.success, "result": task.result})
    return done


@pytest.fixture
def payments_plan() -> dict | None:
    """Override with ``@pytest.mark.parametrize("payments_plan", [{...}])`` to inject faults."""
    return None


@pytest.fixture
def payments(rsps: responses.RequestsMock, ledger: Any, payments_plan: dict | None) -> Any:
    """The fake Stripe at ``STRIPE_API_BASE`` (webhooks delivered on demand)."""
    return make_payments(rsps, ledger, payments_plan)


def make_payments(rsps: responses.RequestsMock, ledger: Any, plan: dict | None = None) -> Any:
    from django.test import Client

    from harness.fakes.faults import FaultInjector, FaultPlan
    from harness.fakes.payments import FakePayments
    from harness.fakes.transport import mount_responses

    client = Client()

    def sender(url: str, data: str, headers: dict[str, str], timeout: float) -> Any:
        return client.post(
            "/webhooks/stripe/",
            data=data,
            content_type="application/json",
            headers={"Stripe-Signature": headers["Stripe-Signature"]},
        )

    faults = FaultInjector(FaultPlan.from_dict(plan), seed=1) if plan else None
    fake = FakePayments(
        ledger,
        timezone.now,
        faults,
        secret_key=settings.STRIPE_SECRET_KEY,
        webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
        webhook_url="http://testserver/webhooks/stripe/",
        sender=sender,
        deliver_webhooks="manual",
    )
    mount_responses(rsps, settings.STRIPE_API_BASE, fake)
    return fake


@pytest.fixture
def registrar(rsps: responses.RequestsMock, ledger: Any) -> Any:
    return make_registrar(rsps, ledger)


def make_registrar(rsps: responses.RequestsMock, ledger: Any, plan: dict | None = None) -> Any:
    from harness.fakes.faults import FaultInjector, FaultPlan
    from harness.fakes.registrar import FakeRegistrar
    from harness.fakes.transport import mount_responses

    faults = FaultInjector(FaultPlan.from_dict(plan), seed=1) if plan else None
    fake = FakeRegistrar(ledger, timezone.now, faults, token=settings.REGISTRAR_API_TOKEN)
    mount_responses(rsps, settings.REGISTRAR_API_BASE.rsplit("/v5", 1)[0], fake)
    return fake
