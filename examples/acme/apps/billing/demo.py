"""Demo data: `python manage.py seed_demo` locally, and the harness scenarios' setup and load.

Cards are Stripe's test payment methods, so this works against Stripe's test mode too.
"""

import datetime

from django.utils import timezone

from . import services
from .models import Customer, Subscription

GOOD_CARD = "pm_card_visa"
DECLINING_CARD = "pm_card_chargeDeclined"
PLAN_MIX = [
    Subscription.Plan.STARTER,
    Subscription.Plan.TEAM,
    Subscription.Plan.STARTER,
    Subscription.Plan.BUSINESS,
]


def seed(customers=20, declining=2, renews_on=None):
    """Create ``customers`` customers with one subscription each; the first ``declining`` have
    a card that is always declined. Renewals are spread over the coming week, or all on
    ``renews_on`` (an ISO date) when given. Returns the number of customers created."""
    today = timezone.localdate()
    fixed_day = datetime.date.fromisoformat(renews_on) if renews_on else None
    created = 0
    for i in range(customers):
        email = f"customer{i + 1:03d}@acme-demo.test"
        if Customer.objects.filter(email=email).exists():
            continue
        card = DECLINING_CARD if i < declining else GOOD_CARD
        customer = services.create_customer(email, card, name=f"Demo Customer {i + 1}")
        day = fixed_day or today + datetime.timedelta(days=i % 7)
        services.start_subscription(customer, PLAN_MIX[i % len(PLAN_MIX)], day)
        created += 1
    return created


def signup(n):
    """A new customer signs up; their first charge is due today (the trial is one day)."""
    customer = services.create_customer(f"signup{n:05d}@acme-demo.test", GOOD_CARD)
    plan = PLAN_MIX[n % len(PLAN_MIX)]
    return services.start_subscription(customer, plan, timezone.localdate())
