"""Same plan + seed + same calls → a byte-identical ledger, across all three fakes."""

from __future__ import annotations

import contextlib

import requests
import responses
import stripe

from harness.fakes import (
    FakePayments,
    FakeRegistrar,
    FakeVirtualmin,
    FaultInjector,
    FaultPlan,
    Ledger,
    mount_responses,
)
from harness.fakes.payments import DEFAULT_SECRET_KEY
from harness.fakes.registrar import DEFAULT_TOKEN
from tests.fakes.support import ORIGIN, Clock

PLAN = {
    "rules": [
        {"type": "error", "probability": 0.3, "status": 503},
        {"type": "lost_response", "probability": 0.2},
        {"type": "latency", "ms": 40, "probability": 0.5},
    ]
}


def _run(seed: int) -> str:
    clock = Clock()
    ledger = Ledger(clock)
    faults = FaultInjector(FaultPlan.from_dict(PLAN), seed=seed, origin=ORIGIN)
    vm = FakeVirtualmin(ledger, clock, faults)
    pay = FakePayments(ledger, clock, faults, seed=seed)
    reg = FakeRegistrar(ledger, clock, faults)
    client = stripe.StripeClient(
        DEFAULT_SECRET_KEY,
        base_addresses={"api": "https://api.stripe.fake"},
        max_network_retries=0,
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount_responses(rsps, "https://vm1.example.test:10000", vm)
        mount_responses(rsps, "https://api.stripe.fake", pay)
        mount_responses(rsps, "https://api.gandi.fake/v5", reg)
        for i in range(12):
            clock.advance(minutes=7)
            attempts = [
                lambda i=i: requests.get(
                    "https://vm1.example.test:10000/virtual-server/remote.cgi",
                    params={
                        "program": "create-domain",
                        "json": "1",
                        "domain": f"d{i}.example.com",
                        "user": f"u{i}",
                        "pass": "p",
                    },
                    auth=("admin", "secret"),
                    timeout=5,
                ),
                lambda i=i: client.v1.payment_intents.create(
                    params={
                        "amount": 1000 + i,
                        "currency": "ron",
                        "payment_method": "pm_card_visa",
                        "confirm": True,
                        "off_session": True,
                        "metadata": {"invoice_id": f"INV-{i}"},
                    },
                    options={"idempotency_key": f"inv-{i}"},
                ),
                lambda i=i: requests.post(
                    "https://api.gandi.fake/v5/domain/domains",
                    json={"fqdn": f"d{i}.ro", "owner": {"email": "a@b.ro"}},
                    headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
                    timeout=5,
                ),
            ]
            for attempt in attempts:
                with contextlib.suppress(requests.exceptions.RequestException, stripe.StripeError):
                    attempt()
    return ledger.to_json_lines()


def test_identical_runs_give_byte_identical_ledgers() -> None:
    first, second = _run(seed=11), _run(seed=11)
    assert first == second
    assert '"fault":"lost_response"' in first and '"fault":"error"' in first
    assert _run(seed=12) != first  # the seed matters
