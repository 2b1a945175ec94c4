"""Stateful test of the payment retry policy (``apps.billing.tasks``) against the fake Stripe.

Hypothesis changes the customer's card, arms one fault for the next charge (lost answer, 5xx,
refused or timed-out connection, rate limit), runs collection, delivers webhooks and lets days
pass — through the real ``stripe`` SDK, the real task code and PostgreSQL. Invariants:

* every charge request carries an idempotency key, and it is the key of a stored attempt;
* a key is never sent again once Stripe may have forgotten it (24 h after its first send);
* at most one successful charge per invoice, and a paid invoice has exactly one paid attempt;
* at most four attempts per invoice (the first, then +1, +3 and +7 days);
* terminal states absorb: a paid or uncollectible invoice, a succeeded or declined attempt.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from typing import Any

import pytest
import responses
from django.utils import timezone
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from apps.billing import tasks
from apps.billing.models import Invoice, Payment, Subscription
from apps.common.retriability import RetryableTaskError
from harness.fakes import FaultInjector, FaultPlan, Ledger
from tests.apps.conftest import make_payments
from tests.properties.support import Sandbox, machine_settings, service_rows

pytestmark = [pytest.mark.django_db, pytest.mark.dbpath]

CHARGE = "payment_intent.create"
STRIPE_KEY_LIFETIME = dt.timedelta(hours=24)
FAULTS = {
    "lost answer": {"type": "lost_response"},
    "503": {"type": "outage", "mode": "503"},
    "refused": {"type": "outage", "mode": "connection_refused"},
    "read timeout": {"type": "outage", "mode": "read_timeout"},
    "500": {"type": "error", "status": 500},
    "429": {"type": "rate_limit", "retry_after": 30},
}
EXECUTED = (None, "lost_response", "latency")  # ledger fault kinds of requests Stripe performed
CARDS = ["pm_card_visa", "pm_card_chargeDeclined", "pm_card_chargeDeclinedInsufficientFunds"]
ABSORBING_INVOICE = {Invoice.Status.PAID, Invoice.Status.UNCOLLECTIBLE}
ABSORBING_PAYMENT = {Payment.Status.SUCCEEDED, Payment.Status.DECLINED}


class PaymentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.box = Sandbox()
        self.rsps = responses.RequestsMock(assert_all_requests_are_fired=False)
        self.rsps.start()
        self.ledger = Ledger(timezone.now)
        self.stripe = make_payments(self.rsps, self.ledger)
        service = service_rows("payprop")
        self.customer = service.customer
        from apps.billing.gateway import client

        self.customer.stripe_customer_id = client().v1.customers.create(params={}).id
        self.customer.save()
        Subscription.objects.create(
            customer=self.customer,
            service=service,
            plan="Starter",
            amount_cents=1999,
            currency="eur",
            next_billing_date=timezone.localdate(),
            created_at=timezone.now(),
        )
        tasks.generate_daily_invoices()
        self.seen_invoices: dict[int, str] = {}
        self.seen_payments: dict[int, str] = {}

    def teardown(self) -> None:
        self.rsps.stop()
        self.rsps.reset()
        self.box.close()

    # -- rules ----------------------------------------------------------------------------------
    @rule(card=st.sampled_from(CARDS))
    def change_card(self, card: str) -> None:
        type(self.customer).objects.filter(pk=self.customer.pk).update(
            stripe_payment_method_id=card
        )

    @rule(fault=st.sampled_from(sorted(FAULTS)))
    def arm_fault(self, fault: str) -> None:
        """The next charge request meets this fault (once)."""
        plan = {"rules": [{**FAULTS[fault], "operation": CHARGE, "max_count": 1}]}
        self.stripe.faults = FaultInjector(FaultPlan.from_dict(plan), seed=0)

    @rule()
    def collect(self) -> None:
        for invoice_id in Invoice.objects.values_list("pk", flat=True):
            # A RetryableTaskError makes Django-Q2 redeliver: a later `collect` is that redelivery.
            with contextlib.suppress(RetryableTaskError):
                tasks.collect_invoice_payment(invoice_id)

    @rule()
    def deliver_webhooks(self) -> None:
        self.stripe.deliver_webhooks()

    @rule(hours=st.sampled_from([1, 6, 23, 25, 72, 24 * 8]))
    def advance(self, hours: int) -> None:
        self.box.advance(dt.timedelta(hours=hours))

    @rule()
    def daily_invoices(self) -> None:
        tasks.generate_daily_invoices()

    # -- invariants -----------------------------------------------------------------------------
    def _charges(self) -> list[Any]:
        return [e for e in self.ledger.entries(fake="payments") if e.operation == CHARGE]

    @invariant()
    def every_charge_carries_a_stored_idempotency_key(self) -> None:
        keys = set(Payment.objects.values_list("idempotency_key", flat=True))
        for entry in self._charges():
            assert entry.detail.get("idempotency_key") in keys, entry

    @invariant()
    def no_key_is_resent_after_stripe_may_have_forgotten_it(self) -> None:
        """Stripe keeps a key 24 h from the first request that *executed* (a refused or
        rate-limited request is not stored); a send after that could charge a second time."""
        stored: dict[str, dt.datetime] = {}
        for entry in self._charges():
            key = entry.detail["idempotency_key"]
            if key in stored:
                assert entry.at - stored[key] < STRIPE_KEY_LIFETIME, f"{key} resent {entry.at}"
            elif entry.fault in EXECUTED:
                stored[key] = entry.at

    @invariant()
    def at_most_one_charge_per_invoice(self) -> None:
        charged = Counter(e.business_key for e in self.ledger.effects(effect="charge.succeeded"))
        assert all(n == 1 for n in charged.values()), charged
        for invoice in Invoice.objects.all():
            paid = invoice.payments.filter(status=Payment.Status.SUCCEEDED).count()
            assert paid == (1 if invoice.status == Invoice.Status.PAID else 0), invoice

    @invariant()
    def at_most_four_attempts(self) -> None:
        for invoice in Invoice.objects.all():
            attempts = sorted(invoice.payments.values_list("attempt", flat=True))
            assert attempts == list(range(1, len(attempts) + 1)) and len(attempts) <= 4

    @invariant()
    def terminal_states_absorb(self) -> None:
        for pk, status in Invoice.objects.values_list("pk", "status"):
            if self.seen_invoices.get(pk) in ABSORBING_INVOICE:
                assert status == self.seen_invoices[pk], f"invoice {pk} left {status}"
            self.seen_invoices[pk] = status
        for pk, status in Payment.objects.values_list("pk", "status"):
            if self.seen_payments.get(pk) in ABSORBING_PAYMENT:
                assert status == self.seen_payments[pk], f"payment {pk} left {status}"
            self.seen_payments[pk] = status


def test_payment_retry_policy():
    run_state_machine_as_test(PaymentMachine, settings=machine_settings())
