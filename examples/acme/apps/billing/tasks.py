"""Background jobs, run by the django-q2 cluster (`python manage.py qcluster`).

Schedules are created on migrate (see apps.billing.schedules).
"""

import datetime
import logging

import stripe
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django_q.tasks import async_task

from . import receipts, services
from .models import Charge, Customer, Subscription

logger = logging.getLogger(__name__)

# Dunning: a declined renewal is retried 1, 3 and 5 days after the previous attempt, then the
# subscription is canceled.
RETRY_DELAYS = [datetime.timedelta(days=1), datetime.timedelta(days=3), datetime.timedelta(days=5)]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


def renew_due_subscriptions():
    """Nightly: enqueue a charge for every active subscription due today or earlier."""
    today = timezone.localdate()
    due = Subscription.objects.filter(
        status=Subscription.Status.ACTIVE, renews_on__lte=today
    ).values_list("pk", flat=True)
    count = 0
    for subscription_id in due.iterator():
        async_task("apps.billing.tasks.charge_subscription", subscription_id, group="renewals")
        count += 1
    logger.info("renewals for %s: %d subscriptions enqueued", today, count)
    return count


def charge_subscription(subscription_id):
    """Charge one subscription for its current period and move it to the next one."""
    subscription = Subscription.objects.select_related("customer").get(pk=subscription_id)
    if subscription.status == Subscription.Status.CANCELED:
        return "canceled"
    if subscription.renews_on > timezone.localdate():
        return "not due"  # already renewed by an earlier run
    charge = services.open_charge(subscription)
    if charge.status == Charge.Status.SUCCEEDED:
        return "already charged"

    charge.attempts += 1
    charge.save(update_fields=["attempts", "updated_at"])
    try:
        intent = services.create_payment_intent(subscription, charge)
    except stripe.CardError as exc:
        _record_decline(subscription, charge, exc)
        return f"declined: {exc.code}"
    # Any other Stripe error (5xx, network) propagates: django-q2 runs the task again later,
    # and the idempotency key makes the second request safe.

    with transaction.atomic():
        charge.status = Charge.Status.SUCCEEDED
        charge.stripe_payment_intent_id = intent.id
        charge.failure_code = ""
        charge.next_retry_at = None
        charge.save()
        subscription.status = Subscription.Status.ACTIVE
        subscription.renews_on = services.add_month(charge.period)
        subscription.save(update_fields=["status", "renews_on", "updated_at"])
    logger.info(
        "subscription %s charged %d cents for %s (%s)",
        subscription.pk,
        charge.amount_cents,
        charge.period,
        intent.id,
    )
    async_task("apps.billing.tasks.send_receipt", charge.pk, group="receipts")
    return "charged"


def send_receipt(charge_id):
    """Email the customer the receipt of a successful charge (enqueued by charge_subscription)."""
    return receipts.send(charge_id)


def _record_decline(subscription, charge, exc):
    intent = getattr(exc.error, "payment_intent", None) if exc.error else None
    with transaction.atomic():
        charge.status = Charge.Status.FAILED
        charge.failure_code = exc.code or "card_error"
        if intent:
            charge.stripe_payment_intent_id = intent["id"]
        if charge.attempts < MAX_ATTEMPTS:
            charge.next_retry_at = timezone.now() + RETRY_DELAYS[charge.attempts - 1]
            subscription.status = Subscription.Status.PAST_DUE
        else:
            charge.next_retry_at = None
            subscription.status = Subscription.Status.CANCELED
        charge.save()
        subscription.save(update_fields=["status", "updated_at"])
    logger.warning(
        "subscription %s declined for %s (attempt %d, %s)",
        subscription.pk,
        charge.period,
        charge.attempts,
        charge.failure_code,
    )


def retry_failed_charges():
    """Every 30 minutes: retry declined charges whose next attempt is due."""
    due = Charge.objects.filter(
        status=Charge.Status.FAILED,
        next_retry_at__lte=timezone.now(),
        subscription__status=Subscription.Status.PAST_DUE,
    ).values_list("subscription_id", flat=True)
    count = 0
    for subscription_id in due:
        async_task("apps.billing.tasks.charge_subscription", subscription_id, group="dunning")
        count += 1
    if count:
        logger.info("dunning: %d charges retried", count)
    return count


def send_weekly_digest():
    """Monday morning numbers for the team channel (logged; the log shipper posts it)."""
    since = timezone.now() - datetime.timedelta(days=7)
    subscriptions = Subscription.objects.aggregate(
        active=Count("pk", filter=Q(status=Subscription.Status.ACTIVE)),
        past_due=Count("pk", filter=Q(status=Subscription.Status.PAST_DUE)),
        canceled=Count("pk", filter=Q(status=Subscription.Status.CANCELED)),
    )
    charges = Charge.objects.filter(updated_at__gte=since).aggregate(
        succeeded=Count("pk", filter=Q(status=Charge.Status.SUCCEEDED)),
        failed=Count("pk", filter=Q(status=Charge.Status.FAILED)),
        revenue_cents=Sum("amount_cents", filter=Q(status=Charge.Status.SUCCEEDED)),
    )
    digest = {
        "new_customers": Customer.objects.filter(created_at__gte=since).count(),
        **subscriptions,
        **charges,
    }
    digest["revenue_cents"] = digest["revenue_cents"] or 0
    logger.info(
        "weekly digest: %(new_customers)d new customers, %(active)d active, "
        "%(past_due)d past due, %(canceled)d canceled, %(succeeded)d charges "
        "(%(revenue_cents)d cents), %(failed)d failed",
        digest,
    )
    return digest


def reconcile_charges():
    """Hourly: every charge marked paid in the last day must be "succeeded" at Stripe."""
    services.configure_stripe()
    since = timezone.now() - datetime.timedelta(days=1)
    mismatched = 0
    paid = Charge.objects.filter(status=Charge.Status.SUCCEEDED, updated_at__gte=since)
    for charge in paid.exclude(stripe_payment_intent_id=""):
        intent = stripe.PaymentIntent.retrieve(charge.stripe_payment_intent_id)
        if intent.status != "succeeded":
            mismatched += 1
            logger.error("charge %s is paid here but %s at Stripe", charge.pk, intent.status)
    return {"checked": paid.count(), "mismatched": mismatched}
