"""Business rules of Acme billing, checked on the harness's replays (never imported by the app).

Each invariant reads rows of our own tables that the harness collects while a scenario runs
(at the end, or at each New York midnight), so `harness judge run.json` checks them again
without a database. Models are named by label: this module imports nothing of Django or apps.
"""

from collections import defaultdict
from datetime import date, timedelta

from harness import invariant, rows


@invariant(
    "billed-once-per-period",
    charges=rows(
        "billing.Charge",
        "id",
        "subscription_id",
        "period",
        "amount_cents",
        "created_at",
        filter={"status": "succeeded"},
    ),
)
def billed_once_per_period(ctx):
    """Each subscription is charged at most once per billing period (a calendar month)."""
    by_month = defaultdict(list)
    for charge in ctx.collected["charges"][-1]["rows"]:
        by_month[charge["subscription_id"], charge["period"][:7]].append(charge)
    for (subscription, month), charges in sorted(by_month.items()):
        if len(charges) > 1:
            periods = ", ".join(c["period"] for c in charges)
            yield ctx.problem(
                "billed-twice",
                f"subscription {subscription}",
                "charged more than once in one billing period",
                f"subscription {subscription} charged {len(charges)} times for {month} "
                f"(periods {periods}; charges {', '.join(str(c['id']) for c in charges)})",
                at=charges[-1]["created_at"],
            )


@invariant(
    "renewals-not-missed",
    subscriptions=rows(
        "billing.Subscription", "id", "renews_on", filter={"status": "active"}, when="daily"
    ),
)
def renewals_not_missed(ctx):
    """No active subscription is left more than a day past its renewal date."""
    for taken in ctx.collected["subscriptions"]:
        today = taken["at"].astimezone(ctx.zone).date()
        for subscription in taken["rows"]:
            due = date.fromisoformat(subscription["renews_on"])
            if due < today - timedelta(days=1):
                yield ctx.problem(
                    "renewal-missed",
                    f"subscription {subscription['id']}",
                    "active and not renewed a day after its renewal date",
                    f"subscription {subscription['id']} due {due} still not renewed on {today}",
                    at=taken["at"],
                )
