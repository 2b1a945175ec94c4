"""Domain tasks: the daily expiration check and registrar renewals.

A renewal is charged by the registrar, so it must happen at most once per term. Before the call
a :class:`~apps.domains.models.RenewalIntent` for (domain, term) is committed; the unique
constraint makes a concurrent or later second claim fail. On UNKNOWN (read timeout, 5xx) the
intent is kept and the renewal is never re-sent: the next run reads the registrar's expiry
date and marks the intent succeeded once the term has moved.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from apps.common.audit import AuditService
from apps.common.locks import distributed_lock
from apps.common.retriability import (
    GatewayError,
    Retriability,
    RetryableTaskError,
    UnexpectedTaskError,
)
from apps.common.schedules import ScheduleSpec, upsert_all
from apps.common.security import TaskInputError, safe_error, validate_id
from apps.customers.tasks import send_customer_notification_async
from apps.domains.gateway import RegistrarGateway
from apps.domains.models import Domain, RenewalIntent

logger = logging.getLogger(__name__)

RENEW_TIMEOUT = 120
CHECK_TIMEOUT = 300
RENEW_WINDOW_DAYS = 30
MAX_YEARS = 10
CLAIM_LEASE_SECONDS = 300


def _claim(domain: Domain, years: int) -> tuple[RenewalIntent, bool]:
    """Create the intent for the domain's current term, or return the existing one."""
    period = timezone.localtime(domain.expires_at).date()
    try:
        with transaction.atomic():
            intent = RenewalIntent.objects.create(
                domain=domain, period=period, years=years, created_at=timezone.now()
            )
            return intent, True
    except IntegrityError:
        return RenewalIntent.objects.get(domain=domain, period=period), False


def _succeeded(intent: RenewalIntent, domain: Domain, new_expiry: dt.datetime) -> None:
    now = timezone.now()
    RenewalIntent.objects.filter(pk=intent.pk).update(
        status=RenewalIntent.Status.SUCCEEDED, resolved_at=now, error=""
    )
    Domain.objects.filter(pk=domain.pk).update(expires_at=new_expiry, status=Domain.Status.ACTIVE)


def _reconcile(intent: RenewalIntent, domain: Domain) -> dict[str, Any]:
    """An earlier attempt's outcome is unknown: believe only the registrar's expiry date."""
    logger.info(f"🔄 [Domains] Reconciling renewal of {domain.name} term {intent.period}")
    try:
        remote = RegistrarGateway().expiry(domain.name)
    except GatewayError as exc:
        logger.error(f"❌ [Domains] Reconcile read for {domain.name} failed: {exc.message}")
        return {"success": False, "error": exc.message, "intent": "unknown"}
    if remote is not None and remote > domain.expires_at:
        _succeeded(intent, domain, remote)
        AuditService.log_event(
            "task.completed",
            f"domain:{domain.pk}",
            {"action": "reconciled", "period": intent.period.isoformat()},
        )
        logger.info(f"✅ [Domains] {domain.name} renewal confirmed by the registrar")
        return {"success": True, "action": "reconciled", "expires_at": remote.isoformat()}
    logger.error(f"❌ [Domains] {domain.name}: renewal outcome still unknown; not re-sending")
    return {"success": False, "error": "renewal outcome unknown; not re-sent", "intent": "unknown"}


def renew_domain(domain_id: int, years: int = 1) -> dict[str, Any]:
    """Renew one term of ``domain_id`` at most once."""
    try:
        domain_id = validate_id(domain_id, name="domain_id")
        years = validate_id(years, name="years")
        if years > MAX_YEARS:
            raise TaskInputError(f"years must be at most {MAX_YEARS}")
    except TaskInputError as exc:
        return {"success": False, "error": str(exc)}
    domain = Domain.objects.filter(pk=domain_id).first()
    if domain is None:
        return {"success": False, "error": f"domain {domain_id} does not exist"}
    intent, fresh = _claim(domain, years)
    if not fresh:
        if intent.status == RenewalIntent.Status.SUCCEEDED:
            logger.info(f"✅ [Domains] {domain.name} term {intent.period} already renewed")
            return {"success": True, "action": "already_renewed"}
        stale = intent.created_at <= timezone.now() - dt.timedelta(seconds=CLAIM_LEASE_SECONDS)
        if intent.status == RenewalIntent.Status.CLAIMED and not stale:
            return {"success": False, "error": "renewal in progress elsewhere"}
        # UNKNOWN, or CLAIMED by a worker that died mid-call: both may have renewed.
        RenewalIntent.objects.filter(pk=intent.pk).update(status=RenewalIntent.Status.UNKNOWN)
        return _reconcile(intent, domain)

    logger.info(f"🔄 [Domains] Renewing {domain.name} for {years} year(s)")
    try:
        new_expiry = RegistrarGateway().renew(domain.name, years)
    except GatewayError as exc:
        details = {"error": exc.message, "retriability": str(exc.retriability)}
        if exc.retriability == Retriability.UNKNOWN:
            RenewalIntent.objects.filter(pk=intent.pk).update(
                status=RenewalIntent.Status.UNKNOWN, error=exc.message
            )
            AuditService.log_event("task.failed", f"domain:{domain.pk}", details)
            logger.error(f"❌ [Domains] {domain.name} renewal outcome unknown: {exc.message}")
            return {"success": False, "error": exc.message, "intent": "unknown"}
        RenewalIntent.objects.filter(pk=intent.pk).delete()  # provably not applied: release
        AuditService.log_event("task.failed", f"domain:{domain.pk}", details)
        logger.error(f"❌ [Domains] {domain.name} renewal failed: {exc.message}")
        if exc.retriability == Retriability.RETRIABLE:
            raise RetryableTaskError(exc.message) from None
        return {"success": False, "error": exc.message}
    except Exception as exc:
        RenewalIntent.objects.filter(pk=intent.pk).update(status=RenewalIntent.Status.UNKNOWN)
        AuditService.log_event("task.failed", f"domain:{domain.pk}", {"error": str(exc)})
        logger.exception(f"💥 [Domains] Unexpected error renewing {domain.name}")
        raise UnexpectedTaskError(safe_error(exc)) from None
    expiry = new_expiry or _add_years(domain.expires_at, years)
    _succeeded(intent, domain, expiry)
    AuditService.log_event(
        "task.completed",
        f"domain:{domain.pk}",
        {"action": "renewed", "years": years, "expires_at": expiry.isoformat()},
    )
    logger.info(f"✅ [Domains] {domain.name} renewed until {expiry:%Y-%m-%d}")
    return {"success": True, "action": "renewed", "expires_at": expiry.isoformat()}


def _add_years(when: dt.datetime, years: int) -> dt.datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February
        return when.replace(year=when.year + years, day=28)


def renew_domain_async(domain_id: int, years: int = 1) -> str:
    """Queue :func:`renew_domain`."""
    return async_task("apps.domains.tasks.renew_domain", domain_id, years, timeout=RENEW_TIMEOUT)


def check_domain_expirations() -> dict[str, Any]:
    """Daily: expire lapsed domains, queue auto-renewals, warn owners, reconcile unknowns."""
    with distributed_lock("domains-expiration-check", CHECK_TIMEOUT + 60) as acquired:
        if not acquired:
            return {"success": True, "message": "Already running"}
        now = timezone.now()
        logger.info("🔄 [Domains] Checking domain expirations")
        expired = Domain.objects.filter(status=Domain.Status.ACTIVE, expires_at__lte=now).update(
            status=Domain.Status.EXPIRED
        )
        window = now + dt.timedelta(days=RENEW_WINDOW_DAYS)
        renewals = notices = 0
        for domain in Domain.objects.filter(expires_at__lte=window).order_by("pk"):
            term = timezone.localtime(domain.expires_at).date()
            if domain.auto_renew:
                renew_domain_async(domain.pk, 1)
                renewals += 1
            else:
                send_customer_notification_async(
                    domain.customer_id,
                    "domain_expiring",
                    f"expiring:{domain.pk}:{term.isoformat()}",
                    {"domain": domain.name, "expires": term.isoformat()},
                )
                notices += 1
        result = {"success": True, "expired": expired, "renewals": renewals, "notices": notices}
        AuditService.log_event("task.completed", "domains-expiration-check", result)
        logger.info(f"✅ [Domains] Expiration check: {result}")
        return result


def check_domain_expirations_async() -> str:
    """Queue :func:`check_domain_expirations`."""
    return async_task("apps.domains.tasks.check_domain_expirations", timeout=CHECK_TIMEOUT)


def domain_schedule_specs() -> dict[str, ScheduleSpec]:
    return {
        "expiration_check": ScheduleSpec(
            name="domains-expiration-check",
            func="apps.domains.tasks.check_domain_expirations",
            schedule_type=Schedule.DAILY,
            at="06:00",
        ),
    }


def setup_domain_scheduled_tasks() -> dict[str, str]:
    """Set up the domain schedules (idempotent upsert by name)."""
    return upsert_all(domain_schedule_specs())
