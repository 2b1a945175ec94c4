"""Billing tasks: daily invoice generation, payment collection, retries, dunning, suspension.

* ``generate_daily_invoices`` (DAILY, 02:00 Europe/Bucharest) issues one invoice per
  subscription period (unique constraint) and creates attempt 1 with its idempotency key
  **before** anything calls Stripe; the collection task is enqueued in the same transaction.
* ``collect_invoice_payment`` claims the due attempt (conditional UPDATE with a lease), calls
  Stripe with the stored key, and records the outcome. Transport errors put the attempt back to
  ``pending`` and raise: every retry reuses the same key, so Stripe cannot charge twice.
* A decline schedules the next attempt at +1, +3 and +7 days after the first decline and sends
  a dunning e-mail; when the last attempt is declined the invoice becomes uncollectible, the
  subscription is suspended and provisioning's ``suspend_virtualmin_account_async`` is queued.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from apps.billing import gateway
from apps.billing.models import Invoice, Payment, Subscription
from apps.common.audit import AuditService
from apps.common.locks import distributed_lock
from apps.common.queues import cluster_for
from apps.common.retriability import (
    GatewayError,
    Retriability,
    RetryableTaskError,
    UnexpectedTaskError,
)
from apps.common.schedules import ScheduleSpec, upsert_all
from apps.common.security import TaskInputError, safe_error, validate_id
from apps.customers.tasks import send_customer_notification_async
from apps.provisioning.virtualmin_tasks import suspend_virtualmin_account_async

logger = logging.getLogger(__name__)

RETRY_OFFSETS_DAYS = (1, 3, 7)
"""Days after the first decline at which attempts 2, 3 and 4 are made."""
PAYMENT_LEASE_SECONDS = 300
IDEMPOTENCY_WINDOW = dt.timedelta(hours=23)
"""Stripe keeps idempotency keys for at least 24 hours; past that a resend could charge again."""
COLLECT_TIMEOUT = 120
INVOICE_RUN_TIMEOUT = 300
RETRY_SWEEP_TIMEOUT = 120


def add_months(day: dt.date, months: int = 1) -> dt.date:
    """Same day next month, clamped to the month's end (31 Jan → 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def idempotency_key(invoice_id: int, attempt: int) -> str:
    return f"invoice:{invoice_id}:attempt:{attempt}"


# -- invoices -----------------------------------------------------------------------------------
def generate_daily_invoices() -> dict[str, Any]:
    """Invoice every active subscription whose billing date has come (daily at 02:00)."""
    with distributed_lock("billing-daily-invoices", INVOICE_RUN_TIMEOUT + 60) as acquired:
        if not acquired:
            logger.info("✅ [Billing] Invoice run already in progress, skipping")
            return {"success": True, "message": "Already running"}
        today = timezone.localdate()
        logger.info(f"🔄 [Billing] Generating invoices due on or before {today}")
        created = 0
        due = Subscription.objects.filter(
            status__in=(Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE),
            next_billing_date__lte=today,
        ).order_by("pk")
        for sub_id in due.values_list("pk", flat=True):
            created += _invoice_subscription(sub_id, today)
        result = {"success": True, "invoices_created": created}
        AuditService.log_event("task.completed", "billing-daily-invoices", result)
        logger.info(f"✅ [Billing] Generated {created} invoices")
        return result


def _invoice_subscription(sub_id: int, today: dt.date) -> int:
    """Issue every missing period up to today for one subscription; returns invoices created."""
    created = 0
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(skip_locked=True)
            .filter(pk=sub_id, next_billing_date__lte=today)
            .first()
        )
        if sub is None:
            return 0
        now = timezone.now()
        while sub.next_billing_date <= today:
            start = sub.next_billing_date
            end = add_months(start) - dt.timedelta(days=1)
            invoice, fresh = Invoice.objects.get_or_create(
                subscription=sub,
                period_start=start,
                defaults={
                    "customer_id": sub.customer_id,
                    "number": f"INV-{sub.pk}-{start:%Y%m%d}",
                    "amount_cents": sub.amount_cents,
                    "currency": sub.currency,
                    "period_end": end,
                    "issued_at": now,
                },
            )
            sub.next_billing_date = add_months(start)
            if fresh:
                created += 1
                Payment.objects.create(
                    invoice=invoice,
                    attempt=1,
                    idempotency_key=idempotency_key(invoice.pk, 1),
                    scheduled_for=now,
                )
                collect_invoice_payment_async(invoice.pk)
        sub.save(update_fields=["next_billing_date"])
    return created


# -- collection ---------------------------------------------------------------------------------
def _claim(payment: Payment) -> bool:
    now = timezone.now()
    stale = now - dt.timedelta(seconds=PAYMENT_LEASE_SECONDS)
    return bool(
        Payment.objects.filter(pk=payment.pk, scheduled_for__lte=now)
        .filter(
            Q(status=Payment.Status.PENDING)
            | Q(status=Payment.Status.PROCESSING, claimed_at__lte=stale)
        )
        .update(status=Payment.Status.PROCESSING, claimed_at=now)
    )


def collect_invoice_payment(invoice_id: int) -> dict[str, Any]:
    """Charge the invoice's due attempt with its stored idempotency key."""
    try:
        invoice_id = validate_id(invoice_id, name="invoice_id")
    except TaskInputError as exc:
        return {"success": False, "error": str(exc)}
    invoice = (
        Invoice.objects.select_related("customer", "subscription").filter(pk=invoice_id).first()
    )
    if invoice is None:
        return {"success": False, "error": f"invoice {invoice_id} does not exist"}
    if invoice.status != Invoice.Status.OPEN:
        logger.info(
            f"✅ [Billing] Invoice {invoice.number} is {invoice.status}, nothing to collect"
        )
        return {"success": True, "skipped": f"invoice {invoice.status}"}
    payment = (
        invoice.payments.filter(status__in=(Payment.Status.PENDING, Payment.Status.PROCESSING))
        .order_by("-attempt")
        .first()
    )
    if payment is None or not _claim(payment):
        logger.info(f"✅ [Billing] Invoice {invoice.number}: no attempt due or it is claimed")
        return {"success": True, "skipped": "no due attempt"}

    now = timezone.now()
    if payment.first_sent_at and now - payment.first_sent_at > IDEMPOTENCY_WINDOW:
        return _past_idempotency_window(invoice, payment)
    logger.info(f"🔄 [Billing] Collecting {invoice.number} attempt {payment.attempt}")
    Payment.objects.filter(pk=payment.pk).update(
        attempted_at=now,
        first_sent_at=payment.first_sent_at or now,
        send_count=payment.send_count + 1,
    )
    customer = invoice.customer
    try:
        outcome = gateway.charge(
            amount_cents=invoice.amount_cents,
            currency=invoice.currency,
            customer=customer.stripe_customer_id,
            payment_method=customer.stripe_payment_method_id,
            idempotency_key=payment.idempotency_key,
            metadata={"invoice_id": str(invoice.pk), "attempt": str(payment.attempt)},
        )
    except GatewayError as exc:
        return _charge_error(invoice, payment, exc)
    except Exception as exc:
        Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.PENDING, claimed_at=None)
        AuditService.log_event(
            "task.failed", f"invoice:{invoice.pk}", {"attempt": payment.attempt, "error": str(exc)}
        )
        logger.exception(f"💥 [Billing] Unexpected error collecting {invoice.number}")
        raise UnexpectedTaskError(safe_error(exc)) from None
    if outcome.succeeded:
        _mark_paid(payment.pk, outcome.payment_intent_id)
        AuditService.log_event(
            "task.completed",
            f"invoice:{invoice.pk}",
            {"attempt": payment.attempt, "payment_intent": outcome.payment_intent_id},
        )
        logger.info(f"✅ [Billing] Invoice {invoice.number} paid")
        return {"success": True, "invoice_id": invoice.pk, "status": "paid"}
    if outcome.status == "processing":
        Payment.objects.filter(pk=payment.pk).update(
            stripe_payment_intent_id=outcome.payment_intent_id
        )
        logger.info(f"✅ [Billing] {invoice.number} processing; the webhook will settle it")
        return {"success": True, "invoice_id": invoice.pk, "status": "processing"}
    return _declined(payment.pk, outcome.payment_intent_id, outcome.decline_code, outcome.message)


def _past_idempotency_window(invoice: Invoice, payment: Payment) -> dict[str, Any]:
    """An earlier send's outcome is still unknown and Stripe may have forgotten the key:
    resending could charge twice, so stop and ask a human (or the webhook) to settle it."""
    error = "outcome unknown past the idempotency window; not resent, reconcile by hand"
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.FAILED, error=error)
    AuditService.log_event(
        "payment.needs_review",
        f"invoice:{invoice.pk}",
        {"attempt": payment.attempt, "first_sent_at": payment.first_sent_at.isoformat()},
    )
    logger.error(f"❌ [Billing] {invoice.number} attempt {payment.attempt}: {error}")
    return {"success": False, "error": error}


def _charge_error(invoice: Invoice, payment: Payment, exc: GatewayError) -> dict[str, Any]:
    details = {
        "attempt": payment.attempt,
        "error": exc.message,
        "retriability": str(exc.retriability),
    }
    if exc.retriability == Retriability.NOT_RETRIABLE:
        Payment.objects.filter(pk=payment.pk).update(
            status=Payment.Status.FAILED, error=exc.message
        )
        AuditService.log_event("task.failed", f"invoice:{invoice.pk}", details)
        logger.error(f"❌ [Billing] Collecting {invoice.number} failed: {exc.message}")
        return {"success": False, "error": exc.message}
    # RETRIABLE or UNKNOWN: the attempt stays open with the SAME idempotency key; a retry either
    # performs the charge once or replays the outcome Stripe already recorded.
    Payment.objects.filter(pk=payment.pk).update(
        status=Payment.Status.PENDING, claimed_at=None, error=exc.message
    )
    AuditService.log_event("task.failed", f"invoice:{invoice.pk}", details)
    logger.error(f"❌ [Billing] Collecting {invoice.number} failed, will retry: {exc.message}")
    raise RetryableTaskError(exc.message)


def _mark_paid(payment_id: int, payment_intent_id: str) -> bool:
    """Idempotent: the task and the webhook may both report the same success."""
    now = timezone.now()
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("invoice").get(pk=payment_id)
        if payment.status == Payment.Status.SUCCEEDED:
            return False
        payment.status = Payment.Status.SUCCEEDED
        payment.stripe_payment_intent_id = payment_intent_id or payment.stripe_payment_intent_id
        payment.error = ""
        payment.save(update_fields=["status", "stripe_payment_intent_id", "error"])
        Invoice.objects.filter(pk=payment.invoice_id).update(
            status=Invoice.Status.PAID, paid_at=now
        )
        Subscription.objects.filter(
            pk=payment.invoice.subscription_id, status=Subscription.Status.PAST_DUE
        ).update(status=Subscription.Status.ACTIVE)
        # Later attempts scheduled for this invoice are moot now.
        Payment.objects.filter(
            invoice_id=payment.invoice_id, status=Payment.Status.PENDING
        ).exclude(pk=payment.pk).update(status=Payment.Status.FAILED, error="invoice already paid")
    return True


def _declined(payment_id: int, intent_id: str, code: str, message: str) -> dict[str, Any]:
    """Record a decline once, then schedule the next attempt or suspend (idempotent)."""
    now = timezone.now()
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .select_related("invoice__subscription", "invoice__customer")
            .get(pk=payment_id)
        )
        if payment.status in (Payment.Status.DECLINED, Payment.Status.SUCCEEDED):
            return {"success": False, "error": "already recorded", "status": payment.status}
        payment.status = Payment.Status.DECLINED
        payment.stripe_payment_intent_id = intent_id or payment.stripe_payment_intent_id
        payment.decline_code = code[:100]
        payment.error = message[:500]
        payment.save()
        invoice, sub = payment.invoice, payment.invoice.subscription
        first = invoice.payments.filter(attempt=1).values_list("first_sent_at", flat=True).first()
        first_decline = first or now
        details: dict[str, Any] = {"attempt": payment.attempt, "decline_code": payment.decline_code}
        if payment.attempt <= len(RETRY_OFFSETS_DAYS):
            next_at = first_decline + dt.timedelta(days=RETRY_OFFSETS_DAYS[payment.attempt - 1])
            Payment.objects.get_or_create(
                invoice=invoice,
                attempt=payment.attempt + 1,
                defaults={
                    "idempotency_key": idempotency_key(invoice.pk, payment.attempt + 1),
                    "scheduled_for": next_at,
                },
            )
            Subscription.objects.filter(pk=sub.pk, status=Subscription.Status.ACTIVE).update(
                status=Subscription.Status.PAST_DUE
            )
            send_customer_notification_async(
                invoice.customer_id,
                "payment_failed",
                f"dunning:{invoice.pk}:{payment.attempt}",
                {
                    "invoice": invoice.number,
                    "amount": f"{invoice.amount_cents / 100:.2f} {invoice.currency.upper()}",
                    "next_retry": timezone.localtime(next_at).strftime("%Y-%m-%d"),
                },
            )
            details["next_attempt_at"] = next_at.isoformat()
            AuditService.log_event("payment.declined", f"invoice:{invoice.pk}", details)
            logger.error(
                f"❌ [Billing] {invoice.number} attempt {payment.attempt} declined; "
                f"next attempt {next_at.isoformat()}"
            )
            return {"success": False, "error": "card declined", **details}
        Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.UNCOLLECTIBLE)
        Subscription.objects.filter(pk=sub.pk).update(status=Subscription.Status.SUSPENDED)
        if sub.service_id:
            suspend_virtualmin_account_async(sub.service_id)
            send_customer_notification_async(
                invoice.customer_id,
                "service_suspended",
                f"suspended:{invoice.pk}",
                {"domain": sub.service.domain if sub.service else ""},
            )
        details["suspended_service"] = sub.service_id
        AuditService.log_event("payment.exhausted", f"invoice:{invoice.pk}", details)
        logger.error(f"❌ [Billing] {invoice.number}: last attempt declined, service suspended")
        return {"success": False, "error": "card declined; retries exhausted", **details}


def collect_invoice_payment_async(invoice_id: int) -> str:
    """Queue :func:`collect_invoice_payment`."""
    return async_task(
        "apps.billing.tasks.collect_invoice_payment",
        invoice_id,
        timeout=COLLECT_TIMEOUT,
        cluster=cluster_for("billing"),
    )


def retry_failed_payments() -> dict[str, Any]:
    """Queue collection for every open invoice whose next attempt is due (hourly)."""
    with distributed_lock("billing-payment-retries", RETRY_SWEEP_TIMEOUT + 60) as acquired:
        if not acquired:
            return {"success": True, "message": "Already running"}
        now = timezone.now()
        stale = now - dt.timedelta(seconds=PAYMENT_LEASE_SECONDS)
        logger.info("🔄 [Billing] Looking for due payment attempts")
        due = (
            Payment.objects.filter(invoice__status=Invoice.Status.OPEN, scheduled_for__lte=now)
            .filter(
                Q(status=Payment.Status.PENDING)
                | Q(status=Payment.Status.PROCESSING, claimed_at__lte=stale)
            )
            .order_by("invoice_id")
            .values_list("invoice_id", flat=True)
            .distinct()
        )
        queued = 0
        for invoice_id in due:
            collect_invoice_payment_async(invoice_id)
            queued += 1
        result = {"success": True, "queued": queued}
        AuditService.log_event("task.completed", "billing-payment-retries", result)
        logger.info(f"✅ [Billing] Queued {queued} payment attempts")
        return result


def generate_daily_invoices_async() -> str:
    """Queue :func:`generate_daily_invoices` (e.g. from the admin)."""
    return async_task(
        "apps.billing.tasks.generate_daily_invoices",
        timeout=INVOICE_RUN_TIMEOUT,
        cluster=cluster_for("billing"),
    )


def billing_schedule_specs() -> dict[str, ScheduleSpec]:
    cluster = cluster_for("billing")
    return {
        "daily_invoices": ScheduleSpec(
            name="billing-daily-invoices",
            func="apps.billing.tasks.generate_daily_invoices",
            schedule_type=Schedule.DAILY,
            at="02:00",
            cluster=cluster,
        ),
        "payment_retries": ScheduleSpec(
            name="billing-payment-retries",
            func="apps.billing.tasks.retry_failed_payments",
            schedule_type=Schedule.HOURLY,
            cluster=cluster,
        ),
    }


def setup_billing_scheduled_tasks() -> dict[str, str]:
    """Set up the billing schedules (idempotent upsert by name)."""
    return upsert_all(billing_schedule_specs())
