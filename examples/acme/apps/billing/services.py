"""Billing operations shared by the web views, the admin and the background tasks."""

import calendar
import datetime
import logging
import time

import stripe
from django.conf import settings
from django.db import transaction

from .models import Charge, Customer, Subscription

logger = logging.getLogger(__name__)

# Stripe's transient errors (5xx, network) are retried in place, 0.5 s, 1 s and 2 s apart: the
# idempotency key makes a repeated request safe, and most blips are over within seconds.
STRIPE_RETRIES = 3
STRIPE_BACKOFF_SECONDS = 0.5


def configure_stripe():
    stripe.api_key = settings.STRIPE_SECRET_KEY
    stripe.api_base = settings.STRIPE_API_BASE
    stripe.max_network_retries = 0  # create_payment_intent retries itself; no retries on retries


def add_month(day):
    """The same day next month, clamped to the month's length (Jan 31 -> Feb 28)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    last = calendar.monthrange(year, month)[1]
    return datetime.date(year, month, min(day.day, last))


def create_customer(email, payment_method, name=""):
    """Create the customer locally and in Stripe, with the card attached for later charges."""
    configure_stripe()
    with transaction.atomic():
        customer = Customer.objects.create(email=email, name=name)
    stripe_customer = stripe.Customer.create(
        email=email,
        name=name or None,
        metadata={"acme_customer_id": str(customer.pk)},
        idempotency_key=f"customer-{customer.pk}",
    )
    card = stripe.PaymentMethod.attach(
        payment_method,
        customer=stripe_customer.id,
        idempotency_key=f"customer-{customer.pk}-card",
    )
    customer.stripe_customer_id = stripe_customer.id
    customer.payment_method = card.id
    customer.save(update_fields=["stripe_customer_id", "payment_method"])
    logger.info("customer %s created in Stripe as %s", customer.pk, stripe_customer.id)
    return customer


def start_subscription(customer, plan, renews_on):
    return Subscription.objects.create(
        customer=customer,
        plan=plan,
        amount_cents=Subscription.PRICES[plan],
        renews_on=renews_on,
    )


def create_payment_intent(subscription, charge):
    """Charge the customer's saved card off-session for ``charge.period``.

    The idempotency key is per subscription and period, so a retried task (or two workers
    racing on one renewal) can never charge twice for the same month.
    """
    configure_stripe()
    customer = subscription.customer
    for attempt in range(STRIPE_RETRIES + 1):
        try:
            return stripe.PaymentIntent.create(
                amount=charge.amount_cents,
                currency="usd",
                customer=customer.stripe_customer_id,
                payment_method=customer.payment_method,
                off_session=True,
                confirm=True,
                description=f"Acme {subscription.plan} plan",
                metadata={
                    "subscription": str(subscription.pk),
                    "period": charge.period.isoformat(),
                },
                idempotency_key=f"sub-{subscription.pk}-{charge.period}",
            )
        except (stripe.APIConnectionError, stripe.APIError) as exc:
            if attempt == STRIPE_RETRIES:
                raise
            delay = STRIPE_BACKOFF_SECONDS * 2**attempt
            logger.warning(
                "stripe %s for subscription %s; retrying in %.1f s",
                type(exc).__name__,
                subscription.pk,
                delay,
            )
            time.sleep(delay)


def open_charge(subscription):
    """The charge for the subscription's current period (created on first use)."""
    charge, _ = Charge.objects.get_or_create(
        subscription=subscription,
        period=subscription.renews_on,
        defaults={"amount_cents": subscription.amount_cents},
    )
    return charge
