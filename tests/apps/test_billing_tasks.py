"""Billing against the fake Stripe: invoices, idempotent collection, declines, dunning,
suspension, and the signed webhook."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_q.models import OrmQ

from apps.billing import tasks
from apps.billing.models import Invoice, Payment, Subscription, WebhookEvent
from apps.common.retriability import RetryableTaskError
from apps.provisioning.models import ProvisioningJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscription(customer: Any, service: Any, payments: Any) -> Subscription:
    from apps.billing.gateway import client

    # The customer exists at "Stripe" (created through the real SDK against the fake).
    customer.stripe_customer_id = client().v1.customers.create(params={"email": customer.email}).id
    customer.save()
    return Subscription.objects.create(
        customer=customer,
        service=service,
        plan="Starter",
        amount_cents=1999,
        currency="eur",
        next_billing_date=timezone.localdate(),
        created_at=timezone.now(),
    )


def _queued_funcs() -> list[str]:
    from django_q.signing import SignedPackage

    return [SignedPackage.loads(row.payload)["func"] for row in OrmQ.objects.order_by("id")]


def _charges(ledger: Any) -> list[Any]:
    return [e for e in ledger.effects() if e.effect and e.effect.startswith("payment_intent")]


def test_daily_run_issues_one_invoice_per_period_and_queues_collection(subscription):
    assert tasks.generate_daily_invoices()["invoices_created"] == 1
    assert tasks.generate_daily_invoices()["invoices_created"] == 0  # same day again: nothing
    invoice = Invoice.objects.get()
    payment = invoice.payments.get()
    # The key exists in the database before anything talks to Stripe.
    assert payment.idempotency_key == f"invoice:{invoice.pk}:attempt:1"
    assert _queued_funcs() == ["apps.billing.tasks.collect_invoice_payment"]
    subscription.refresh_from_db()
    assert subscription.next_billing_date == tasks.add_months(timezone.localdate())


def test_add_months_clamps_to_month_end():
    assert tasks.add_months(dt.date(2026, 1, 31)) == dt.date(2026, 2, 28)
    assert tasks.add_months(dt.date(2026, 12, 15)) == dt.date(2027, 1, 15)


def test_collection_succeeds_with_the_stored_key(payments, ledger, subscription):
    tasks.generate_daily_invoices()
    invoice = Invoice.objects.get()
    result = tasks.collect_invoice_payment(invoice.pk)

    assert result == {"success": True, "invoice_id": invoice.pk, "status": "paid"}
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    intent = next(iter(payments.state.payment_intents.values()))
    assert intent["status"] == "succeeded" and intent["amount"] == 1999
    assert tasks.collect_invoice_payment(invoice.pk)["skipped"] == "invoice paid"


@pytest.mark.parametrize(
    "payments_plan",
    [{"rules": [{"type": "lost_response", "operation": "payment_intent.create", "max_count": 1}]}],
)
def test_lost_response_is_retried_with_the_same_key_and_charges_once(payments, subscription):
    fake = payments
    tasks.generate_daily_invoices()
    invoice = Invoice.objects.get()

    with pytest.raises(RetryableTaskError):
        tasks.collect_invoice_payment(invoice.pk)
    payment = invoice.payments.get()
    assert payment.status == Payment.Status.PENDING  # still open, same key

    assert tasks.collect_invoice_payment(invoice.pk)["status"] == "paid"
    assert len(fake.state.payment_intents) == 1  # Stripe replayed, did not charge again
    payment.refresh_from_db()
    assert payment.send_count == 2 and payment.idempotency_key.endswith(":attempt:1")


@pytest.mark.parametrize(
    "payments_plan",
    [{"rules": [{"type": "outage", "mode": "read_timeout", "operation": "payment_intent.create"}]}],
)
def test_unknown_outcome_is_not_resent_after_the_idempotency_window(payments, ledger, subscription):
    tasks.generate_daily_invoices()
    invoice = Invoice.objects.get()
    start = timezone.now()
    with time_machine.travel(start, tick=False), pytest.raises(RetryableTaskError):
        tasks.collect_invoice_payment(invoice.pk)
    with (
        time_machine.travel(start + dt.timedelta(hours=5), tick=False),
        pytest.raises(RetryableTaskError),
    ):
        tasks.collect_invoice_payment(invoice.pk)  # inside the window: same key, safe
    sends = len([e for e in ledger.entries() if e.operation == "payment_intent.create"])
    with time_machine.travel(start + dt.timedelta(hours=24), tick=False):
        result = tasks.collect_invoice_payment(invoice.pk)
    assert result["success"] is False and "idempotency window" in result["error"]
    assert len([e for e in ledger.entries() if e.operation == "payment_intent.create"]) == sends
    assert invoice.payments.get().status == Payment.Status.FAILED


def test_declines_follow_the_1_3_7_day_policy_then_suspend(payments, ledger, subscription):
    subscription.customer.stripe_payment_method_id = "pm_card_chargeDeclined"
    subscription.customer.save()
    start = timezone.now()
    tasks.generate_daily_invoices()
    invoice = Invoice.objects.get()

    expected_next = [1, 3, 7]
    for attempt in range(1, 5):
        offset = 0 if attempt == 1 else expected_next[attempt - 2]
        with time_machine.travel(start + dt.timedelta(days=offset, minutes=1), tick=False):
            result = tasks.collect_invoice_payment(invoice.pk)
        assert result["success"] is False and result["attempt"] == attempt
        if attempt < 4:
            nxt = invoice.payments.get(attempt=attempt + 1)
            gap = nxt.scheduled_for - invoice.payments.get(attempt=1).first_sent_at
            assert gap == dt.timedelta(days=expected_next[attempt - 1])

    invoice.refresh_from_db()
    subscription.refresh_from_db()
    assert invoice.status == Invoice.Status.UNCOLLECTIBLE
    assert subscription.status == Subscription.Status.SUSPENDED
    assert len({p.idempotency_key for p in invoice.payments.all()}) == 4
    job = ProvisioningJob.objects.get(service=subscription.service)
    assert job.operation == ProvisioningJob.Operation.SUSPEND
    funcs = _queued_funcs()
    assert funcs.count("apps.customers.tasks.send_customer_notification") == 4  # 3 dunning + 1
    assert "apps.provisioning.virtualmin_tasks.suspend_virtualmin_account" in funcs


def test_a_not_yet_due_attempt_is_not_charged(payments, ledger, subscription):
    subscription.customer.stripe_payment_method_id = "pm_card_chargeDeclined"
    subscription.customer.save()
    tasks.generate_daily_invoices()
    invoice = Invoice.objects.get()
    tasks.collect_invoice_payment(invoice.pk)
    before = len(_charges(ledger))

    assert tasks.collect_invoice_payment(invoice.pk)["skipped"] == "no due attempt"
    assert tasks.retry_failed_payments()["queued"] == 0
    assert len(_charges(ledger)) == before


def test_bad_api_key_is_not_retried(subscription, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_wrong_key_value"
    tasks.generate_daily_invoices()
    invoice = Invoice.objects.get()

    result = tasks.collect_invoice_payment(invoice.pk)

    assert result["success"] is False and "AuthenticationError" in result["error"]
    assert "sk_test_wrong_key_value" not in result["error"]
    assert invoice.payments.get().status == Payment.Status.FAILED


def test_webhook_settles_a_processing_payment_and_dedupes(payments, ledger, subscription):
    tasks.generate_daily_invoices()
    invoice = Invoice.objects.get()
    tasks.collect_invoice_payment(invoice.pk)
    assert payments.deliver_webhooks() >= 1
    events = WebhookEvent.objects.all()
    assert events and all(e.status == WebhookEvent.Status.PROCESSED for e in events)

    # Redelivering a processed event is acknowledged as a duplicate and changes nothing.
    event = next(e for e in payments.state.events if e["type"] == "payment_intent.succeeded")
    payload = json.dumps(event)
    response = Client().post(
        "/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": payments.sign(payload)},
    )
    assert response.status_code == 200 and response.json()["status"] == "duplicate"


def test_webhook_rejects_a_bad_signature(payments):
    payload = json.dumps({"id": "evt_x", "type": "payment_intent.succeeded", "data": {}})
    response = Client().post(
        "/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": "t=1,v1=deadbeef"},
    )
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_failed_webhook_is_processed_again_on_redelivery(payments, subscription, monkeypatch):
    tasks.generate_daily_invoices()
    invoice = Invoice.objects.get()
    payment = invoice.payments.get()
    Payment.objects.filter(pk=payment.pk).update(stripe_payment_intent_id="pi_webhook_1")
    event = {
        "id": "evt_retry_1",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_webhook_1", "object": "payment_intent", "metadata": {}}},
    }
    payload = json.dumps(event)

    def post() -> Any:
        return Client().post(
            "/webhooks/stripe/",
            data=payload,
            content_type="application/json",
            headers={"Stripe-Signature": payments.sign(payload)},
        )

    def boom(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(tasks, "_mark_paid", boom)
    assert post().status_code == 500
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.FAILED
    monkeypatch.undo()
    assert post().json()["status"] == "processed"
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert WebhookEvent.objects.get().attempts == 2


def test_dunning_mail_is_sent_once_per_attempt(customer):
    from apps.customers.tasks import send_customer_notification

    context = {"invoice": "INV-1", "amount": "19.99 EUR", "next_retry": "2026-12-02"}
    first = send_customer_notification(customer.pk, "payment_failed", "dunning:1:1", context)
    again = send_customer_notification(customer.pk, "payment_failed", "dunning:1:1", context)
    assert first["duplicate"] is False and again["duplicate"] is True
    assert len(mail.outbox) == 1 and "INV-1" in mail.outbox[0].subject


def test_retry_sweep_queues_the_attempt_once_it_is_due(payments, subscription):
    subscription.customer.stripe_payment_method_id = "pm_card_chargeDeclined"
    subscription.customer.save()
    tasks.generate_daily_invoices()
    invoice = Invoice.objects.get()
    tasks.collect_invoice_payment(invoice.pk)
    OrmQ.objects.all().delete()

    with time_machine.travel(timezone.now() + dt.timedelta(days=1, minutes=1), tick=False):
        assert tasks.retry_failed_payments() == {"success": True, "queued": 1}
    assert _queued_funcs() == ["apps.billing.tasks.collect_invoice_payment"]


def test_generate_daily_invoices_async_queues_the_run():
    tasks.generate_daily_invoices_async()
    assert _queued_funcs() == ["apps.billing.tasks.generate_daily_invoices"]
