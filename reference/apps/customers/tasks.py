"""Customer tasks: inactive-account cleanup and notification e-mails."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from apps.common.audit import AuditService
from apps.common.locks import distributed_lock
from apps.common.queues import cluster_for
from apps.common.retriability import RetryableTaskError, _is_retryable_error
from apps.common.schedules import ScheduleSpec, upsert_all
from apps.common.security import (
    TaskInputError,
    safe_error,
    validate_id,
    validate_payload_size,
    validate_str,
)
from apps.customers.models import Customer, Notification

logger = logging.getLogger(__name__)

NOTIFICATION_TIMEOUT = 60
CLEANUP_TIMEOUT = 300
IMPORT_TIMEOUT = 60
INACTIVE_AFTER_DAYS = 365

TEMPLATES: dict[str, tuple[str, str]] = {
    "welcome": ("Welcome to PRAHO", "Hello {name}, your account is ready."),
    "payment_failed": (
        "Payment failed for invoice {invoice}",
        "Hello {name}, we could not collect {amount} for invoice {invoice}. "
        "We will try again on {next_retry}.",
    ),
    "service_suspended": (
        "Service suspended: {domain}",
        "Hello {name}, {domain} was suspended after repeated payment failures.",
    ),
    "domain_expiring": (
        "Domain {domain} expires on {expires}",
        "Hello {name}, {domain} expires on {expires}.",
    ),
    "account_deactivated": (
        "Your PRAHO account was deactivated",
        "Hello {name}, your account was deactivated after a year without activity.",
    ),
}


def send_customer_notification(
    customer_id: int, kind: str, dedupe_key: str, context: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Send one templated e-mail, at most once per ``dedupe_key`` (redelivery-safe)."""
    customer_id = validate_id(customer_id, name="customer_id")
    kind = validate_str(kind, name="kind", max_length=50)
    dedupe_key = validate_str(dedupe_key, name="dedupe_key", max_length=200)
    context = dict(context or {})
    validate_payload_size(context, name="context")
    if kind not in TEMPLATES:
        return {"success": False, "error": f"unknown notification kind {kind!r}"}
    logger.info(f"🔄 [Customers] Sending {kind} to customer {customer_id}")
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return {"success": False, "error": f"customer {customer_id} does not exist"}
    subject_tpl, body_tpl = TEMPLATES[kind]
    fields = {"name": customer.name, **{k: str(v) for k, v in context.items()}}
    now = timezone.now()
    with transaction.atomic():
        note, _created = Notification.objects.select_for_update().get_or_create(
            dedupe_key=dedupe_key,
            defaults={
                "customer": customer,
                "kind": kind,
                "subject": subject_tpl.format_map(_Missing(fields)),
                "body": body_tpl.format_map(_Missing(fields)),
                "created_at": now,
            },
        )
        if note.status == Notification.Status.SENT:
            logger.info(f"✅ [Customers] {kind} for customer {customer_id} already sent")
            return {"success": True, "notification_id": note.pk, "duplicate": True}
    try:
        send_mail(note.subject, note.body, settings.DEFAULT_FROM_EMAIL, [customer.email])
    except Exception as exc:
        error = safe_error(exc)
        Notification.objects.filter(pk=note.pk).update(status=Notification.Status.FAILED)
        AuditService.log_event("notification.failed", customer_id, {"kind": kind, "error": error})
        logger.error(f"❌ [Customers] {kind} to customer {customer_id} failed: {error}")
        if _is_retryable_error(error) or isinstance(exc, OSError):
            raise RetryableTaskError(error) from None
        return {"success": False, "error": error}
    Notification.objects.filter(pk=note.pk).update(status=Notification.Status.SENT, sent_at=now)
    AuditService.log_event("notification.sent", customer_id, {"kind": kind, "key": dedupe_key})
    logger.info(f"✅ [Customers] {kind} sent to customer {customer_id}")
    return {"success": True, "notification_id": note.pk, "duplicate": False}


class _Missing(dict):
    """``str.format_map`` helper: unknown placeholders stay visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def send_customer_notification_async(
    customer_id: int, kind: str, dedupe_key: str, context: dict[str, Any] | None = None
) -> str:
    """Queue :func:`send_customer_notification`."""
    return async_task(
        "apps.customers.tasks.send_customer_notification",
        customer_id,
        kind,
        dedupe_key,
        context or {},
        timeout=NOTIFICATION_TIMEOUT,
    )


def cleanup_inactive_customers(days: int = INACTIVE_AFTER_DAYS) -> dict[str, Any]:
    """Deactivate customers with no login for ``days`` days and no live hosting service."""
    days = validate_id(days, name="days")
    with distributed_lock("customers-inactive-cleanup", CLEANUP_TIMEOUT + 60) as acquired:
        if not acquired:
            logger.info("✅ [Customers] Inactive cleanup already running, skipping")
            return {"success": True, "message": "Already running"}
        logger.info(f"🔄 [Customers] Deactivating customers inactive for {days} days")
        now = timezone.now()
        cutoff = now - timedelta(days=days)
        stale = (
            Customer.objects.filter(is_active=True, created_at__lt=cutoff)
            .exclude(last_login_at__gte=cutoff)
            .exclude(hosting_services__status__in=("pending", "active", "suspended"))
            .order_by("pk")
        )
        deactivated = []
        for customer in stale:
            updated = Customer.objects.filter(pk=customer.pk, is_active=True).update(
                is_active=False, deactivated_at=now
            )
            if updated:
                deactivated.append(customer.pk)
                send_customer_notification_async(
                    customer.pk, "account_deactivated", f"deactivated:{customer.pk}", {}
                )
        AuditService.log_event(
            "task.completed", "cleanup_inactive_customers", {"deactivated": deactivated}
        )
        logger.info(f"✅ [Customers] Deactivated {len(deactivated)} inactive customers")
        return {"success": True, "deactivated": len(deactivated)}


def cleanup_inactive_customers_async(days: int = INACTIVE_AFTER_DAYS) -> str:
    """Queue :func:`cleanup_inactive_customers`."""
    return async_task(
        "apps.customers.tasks.cleanup_inactive_customers",
        days,
        timeout=CLEANUP_TIMEOUT,
        cluster=cluster_for("bulk"),
    )


def import_legacy_customer(record: dict[str, Any]) -> dict[str, Any]:
    """Import one customer record from the legacy system (idempotent by e-mail): low-priority
    bulk work, thousands at a time, routed to the ``bulk`` cluster when priorities are on."""
    if not isinstance(record, dict) or not isinstance(record.get("email"), str):
        raise TaskInputError("record must be a dict with an 'email'")
    email = record["email"].strip().lower()
    customer, created = Customer.objects.get_or_create(
        email=email,
        defaults={"name": str(record.get("name") or email)[:200], "created_at": timezone.now()},
    )
    return {"success": True, "customer_id": customer.pk, "created": created}


def import_legacy_customers_async(records: list[dict[str, Any]]) -> list[str]:
    """Queue one import task per record (a bulk import)."""
    return [
        async_task(
            "apps.customers.tasks.import_legacy_customer",
            record,
            timeout=IMPORT_TIMEOUT,
            cluster=cluster_for("bulk"),
        )
        for record in records
    ]


def customer_schedule_specs() -> dict[str, ScheduleSpec]:
    return {
        "inactive_cleanup": ScheduleSpec(
            name="customers-inactive-cleanup",
            func="apps.customers.tasks.cleanup_inactive_customers",
            schedule_type=Schedule.DAILY,
            # Not 03:00-03:59: that hour does not exist on the spring-forward night in
            # Europe/Bucharest, and Django-Q2's DAILY arithmetic then keeps the shifted time
            # for good (found by tests/scenarios/dst-spring-forward.toml); in autumn it repeats.
            at="04:30",
            cluster=cluster_for("bulk"),
        ),
    }


def setup_customer_scheduled_tasks() -> dict[str, str]:
    """Set up the customer schedules (idempotent)."""
    return upsert_all(customer_schedule_specs())
