"""The Stripe-subset fake, driven by the real ``stripe`` SDK over both transports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import responses
import stripe

from harness.fakes.faults import FaultInjector, FaultPlan
from harness.fakes.ledger import Ledger
from harness.fakes.payments import DEFAULT_SECRET_KEY, DEFAULT_WEBHOOK_SECRET, FakePayments
from harness.fakes.transport import mount_responses
from tests.fakes.support import Clock, reach

OFF_SESSION = {"currency": "ron", "confirm": True, "off_session": True}


class Captured:
    """A webhook sender that keeps what it was asked to POST."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.sent: list[tuple[str, str, dict[str, str]]] = []

    def __call__(self, url: str, *, data: str, headers: dict[str, str], timeout: float) -> Any:
        self.sent.append((url, data, headers))
        return type("Resp", (), {"status_code": self.status})()


@contextmanager
def sdk(transport: str, app: FakePayments, **client_kw: Any) -> Iterator[stripe.StripeClient]:
    with reach(transport, app, "https://api.stripe.fake") as base:
        client_kw.setdefault("max_network_retries", 0)
        yield stripe.StripeClient(DEFAULT_SECRET_KEY, base_addresses={"api": base}, **client_kw)


def _customer_with_card(client: stripe.StripeClient, pm: str = "pm_card_visa") -> tuple[str, str]:
    customer = client.v1.customers.create(params={"email": "ana@example.ro"})
    method = client.v1.payment_methods.attach(pm, params={"customer": customer.id})
    return customer.id, method.id


def test_off_session_charge_succeeds(transport: str, ledger: Ledger, clock: Clock) -> None:
    fake = FakePayments(ledger, clock)
    with sdk(transport, fake) as client:
        customer, pm = _customer_with_card(client)
        pi = client.v1.payment_intents.create(
            params={
                "amount": 4999,
                "customer": customer,
                "payment_method": pm,
                "metadata": {"invoice_id": "INV-1"},
                **OFF_SESSION,
            },
            options={"idempotency_key": "charge-INV-1"},
        )
        assert pi.status == "succeeded" and pi.amount_received == 4999
        again = client.v1.payment_intents.retrieve(pi.id, params={"expand": ["latest_charge"]})
        assert again.latest_charge.status == "succeeded"
        assert again.latest_charge.payment_intent == pi.id
    assert fake.state.payment_intents[pi.id]["customer"] == customer
    assert fake.state.payment_methods[pm]["customer"] == customer
    charges = ledger.effects(effect="charge.succeeded")
    assert [(e.business_key, e.detail["idempotency_key"]) for e in charges] == [
        ("INV-1", "charge-INV-1")
    ]
    assert [e.effect for e in ledger.effects()] == [
        "customer.created",
        "payment_method.attached",
        "charge.succeeded",
    ]


@pytest.mark.parametrize(
    ("pm", "code", "decline_code"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
        ("pm_card_authenticationRequired", "authentication_required", "authentication_required"),
    ],
)
def test_declines_are_402_card_errors_with_the_intent(
    transport: str, ledger: Ledger, clock: Clock, pm: str, code: str, decline_code: str
) -> None:
    fake = FakePayments(ledger, clock)
    with sdk(transport, fake) as client:
        customer, attached = _customer_with_card(client, pm)
        with pytest.raises(stripe.CardError) as info:
            client.v1.payment_intents.create(
                params={
                    "amount": 1000,
                    "customer": customer,
                    "payment_method": attached,
                    **OFF_SESSION,
                }
            )
        err = info.value
        assert err.http_status == 402 and err.code == code
        body = err.json_body["error"]
        assert body["type"] == "card_error" and body["decline_code"] == decline_code
        assert body["payment_intent"]["status"] == "requires_payment_method"
        pi = client.v1.payment_intents.retrieve(body["payment_intent"]["id"])
        assert pi.last_payment_error.decline_code == decline_code
    assert ledger.effects(effect="charge.succeeded") == []
    assert ledger.entries()[-2].status == 402


def test_authentication_required_on_session_needs_action(ledger: Ledger, clock: Clock) -> None:
    fake = FakePayments(ledger, clock)
    with sdk("responses", fake) as client:
        pi = client.v1.payment_intents.create(
            params={
                "amount": 1000,
                "currency": "ron",
                "confirm": True,
                "payment_method": "pm_card_authenticationRequired",
            }
        )
    assert pi.status == "requires_action" and pi.next_action.type == "use_stripe_sdk"


def test_idempotent_replay_mismatch_and_expiry(
    transport: str, ledger: Ledger, clock: Clock
) -> None:
    fake = FakePayments(ledger, clock)
    params = {"amount": 2500, "payment_method": "pm_card_visa", **OFF_SESSION}
    with sdk(transport, fake) as client:
        first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k1"})
        second = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k1"})
        assert second.id == first.id
        assert second.last_response.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.last_response.headers
        with pytest.raises(stripe.IdempotencyError) as info:
            client.v1.payment_intents.create(
                params={**params, "amount": 2600}, options={"idempotency_key": "k1"}
            )
        assert info.value.http_status == 400
        assert info.value.json_body["error"]["type"] == "idempotency_error"
        # A decline is stored too: retrying it replays the same failed intent.
        declined = {**params, "payment_method": "pm_card_chargeDeclined"}
        with pytest.raises(stripe.CardError) as d1:
            client.v1.payment_intents.create(params=declined, options={"idempotency_key": "k2"})
        with pytest.raises(stripe.CardError) as d2:
            client.v1.payment_intents.create(params=declined, options={"idempotency_key": "k2"})
        assert d1.value.error.payment_intent.id == d2.value.error.payment_intent.id
        clock.advance(hours=24)  # Stripe forgets keys after 24 hours
        third = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k1"})
        assert third.id != first.id
    assert len(ledger.effects(effect="charge.succeeded")) == 2
    assert len(fake.state.payment_intents) == 3


def test_sdk_retry_after_lost_response_charges_once(
    transport: str, ledger: Ledger, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe._http_client.HTTPClient, "_sleep_time_seconds", lambda *a: 0)
    plan = FaultPlan.from_dict(
        {"rules": [{"type": "lost_response", "operation": "payment_intent.create", "max_count": 1}]}
    )
    fake = FakePayments(ledger, clock, FaultInjector(plan, seed=5))
    http = stripe.RequestsClient(timeout=0.1)
    with sdk(transport, fake, max_network_retries=1, http_client=http) as client:
        pi = client.v1.payment_intents.create(
            params={"amount": 700, "payment_method": "pm_card_visa", **OFF_SESSION}
        )
    assert pi.status == "succeeded"
    creates = [e for e in ledger.entries() if e.operation == "payment_intent.create"]
    assert [(e.fault, e.effect, e.status) for e in creates] == [
        ("lost_response", "charge.succeeded", 0),
        (None, None, 200),
    ]
    assert creates[1].detail["idempotent_replayed"] is True
    assert creates[0].detail["idempotency_key"] == creates[1].detail["idempotency_key"]
    assert len(fake.state.payment_intents) == 1


@pytest.mark.parametrize(
    ("rule", "exc", "status"),
    [
        ({"type": "outage", "mode": "503"}, stripe.APIError, 503),
        ({"type": "error", "status": 500}, stripe.APIError, 500),
        ({"type": "rate_limit", "retry_after": 2}, stripe.RateLimitError, 429),
        ({"type": "outage", "mode": "connection_refused"}, stripe.APIConnectionError, None),
    ],
)
def test_faults_map_to_the_sdk_errors_the_gateway_classifies(
    transport: str,
    ledger: Ledger,
    clock: Clock,
    rule: dict[str, Any],
    exc: type[Exception],
    status: int | None,
) -> None:
    plan = FaultPlan.from_dict({"rules": [{**rule, "operation": "payment_intent.create"}]})
    fake = FakePayments(ledger, clock, FaultInjector(plan, seed=1))
    with sdk(transport, fake) as client, pytest.raises(exc) as info:
        client.v1.payment_intents.create(
            params={"amount": 1000, "payment_method": "pm_card_visa", **OFF_SESSION}
        )
    assert getattr(info.value, "http_status", None) == status
    assert fake.state.payment_intents == {}
    assert ledger.effects() == []


def test_auth_failures(transport: str, ledger: Ledger, clock: Clock) -> None:
    fake = FakePayments(ledger, clock)
    with reach(transport, fake, "https://api.stripe.fake") as base:
        bad = stripe.StripeClient(
            "sk_test_wrong", base_addresses={"api": base}, max_network_retries=0
        )
        with pytest.raises(stripe.AuthenticationError) as info:
            bad.v1.customers.create(params={"email": "x@example.ro"})
        missing = requests.post(base + "/v1/customers", data={"email": "x"}, timeout=5)
    assert info.value.http_status == 401
    assert "Invalid API Key provided" in info.value.user_message
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert fake.state.customers == {}


def test_refunds(transport: str, ledger: Ledger, clock: Clock) -> None:
    fake = FakePayments(ledger, clock)
    with sdk(transport, fake) as client:
        pi = client.v1.payment_intents.create(
            params={"amount": 3000, "payment_method": "pm_card_visa", **OFF_SESSION}
        )
        partial = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1000})
        with pytest.raises(stripe.InvalidRequestError) as too_much:
            client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 2500})
        rest = client.v1.refunds.create(params={"payment_intent": pi.id})
        with pytest.raises(stripe.InvalidRequestError) as again:
            client.v1.refunds.create(params={"payment_intent": pi.id})
        fetched = client.v1.refunds.retrieve(partial.id)
        listed = client.v1.refunds.list(params={"payment_intent": pi.id})
        with pytest.raises(stripe.InvalidRequestError) as missing:
            client.v1.refunds.retrieve("re_missing")
    assert (partial.amount, rest.amount, fetched.status) == (1000, 2000, "succeeded")
    assert too_much.value.code == "amount_too_large"
    assert again.value.code == "charge_already_refunded"
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    assert sorted(r.id for r in listed.data) == sorted([partial.id, rest.id])
    charge = fake.state.charges[fake.state.payment_intents[pi.id]["latest_charge"]]
    assert charge["refunded"] is True and charge["amount_refunded"] == 3000
    refunds = ledger.effects(effect="refund.created")
    assert [e.business_key for e in refunds] == [pi.id, pi.id]


def test_webhooks_are_signed_like_stripe(transport: str, ledger: Ledger, clock: Clock) -> None:
    sender = Captured()
    fake = FakePayments(ledger, clock, webhook_url="https://platform.test/wh", sender=sender)
    with sdk(transport, fake) as client:
        pi = client.v1.payment_intents.create(
            params={"amount": 900, "payment_method": "pm_card_visa", **OFF_SESSION}
        )
        with pytest.raises(stripe.CardError):
            client.v1.payment_intents.create(
                params={"amount": 900, "payment_method": "pm_card_chargeDeclined", **OFF_SESSION}
            )
        client.v1.refunds.create(params={"payment_intent": pi.id})
    # The SDK checks the signature against the real time; our virtual clock is in the past.
    ts = int(clock().timestamp())
    events = []
    for url, payload, headers in sender.sent:
        assert url == "https://platform.test/wh"
        assert headers["Stripe-Signature"].startswith(f"t={ts},v1=")
        events.append(
            stripe.Webhook.construct_event(
                payload, headers["Stripe-Signature"], DEFAULT_WEBHOOK_SECRET, tolerance=None
            )
        )
    assert [e.type for e in events] == [
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.refunded",
    ]
    assert events[0].data.object.id == pi.id
    with pytest.raises(stripe.SignatureVerificationError):
        tampered = sender.sent[0][1].replace('"amount": 900', '"amount": 1')
        stripe.Webhook.construct_event(
            tampered, sender.sent[0][2]["Stripe-Signature"], DEFAULT_WEBHOOK_SECRET, tolerance=None
        )
    sends = [e for e in ledger.entries() if e.operation == "webhook.send"]
    assert [e.status for e in sends] == [200, 200, 200]


def test_webhook_default_sender_with_real_time_and_redelivery(ledger: Ledger) -> None:
    from datetime import UTC, datetime

    now = lambda: datetime.now(UTC)  # noqa: E731 - construct_event checks real time by default
    received: list[stripe.Event] = []
    up = {"ok": False}

    def receiver(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        if not up["ok"]:
            return 503, {}, "down"
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        event = stripe.Webhook.construct_event(
            body, request.headers["Stripe-Signature"], DEFAULT_WEBHOOK_SECRET
        )
        received.append(event)
        return 200, {}, json.dumps({"received": True})

    fake = FakePayments(Ledger(now), now, webhook_url="https://platform.test/hooks/stripe/")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount_responses(rsps, "https://api.stripe.fake", fake)
        rsps.add_callback(responses.POST, "https://platform.test/hooks/stripe/", callback=receiver)
        client = stripe.StripeClient(
            DEFAULT_SECRET_KEY,
            base_addresses={"api": "https://api.stripe.fake"},
            max_network_retries=0,
        )
        client.v1.payment_intents.create(
            params={"amount": 1000, "payment_method": "pm_card_visa", **OFF_SESSION}
        )
        assert received == [] and len(fake.outbox) == 1  # receiver down: kept for redelivery
        up["ok"] = True
        assert fake.deliver_webhooks() == 1
    assert [e.type for e in received] == ["payment_intent.succeeded"]
    assert fake.outbox == []
    attempts = [
        e.detail["delivery_attempt"] for e in fake.ledger.entries() if e.operation == "webhook.send"
    ]
    assert attempts == [1, 2]


def test_manual_webhook_delivery(ledger: Ledger, clock: Clock) -> None:
    sender = Captured()
    fake = FakePayments(
        ledger, clock, webhook_url="https://p.test/wh", sender=sender, deliver_webhooks="manual"
    )
    with sdk("responses", fake) as client:
        client.v1.payment_intents.create(
            params={"amount": 1000, "payment_method": "pm_card_visa", **OFF_SESSION}
        )
    assert sender.sent == []
    assert fake.deliver_webhooks() == 1 and len(sender.sent) == 1


def test_legacy_global_configuration(
    ledger: Ledger, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PRAHO's gateway uses the module-level API (``stripe.PaymentIntent.create``)."""
    fake = FakePayments(ledger, clock)
    monkeypatch.setattr(stripe, "api_base", "https://api.stripe.fake")
    monkeypatch.setattr(stripe, "api_key", DEFAULT_SECRET_KEY)
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    with reach("responses", fake, "https://api.stripe.fake"):
        pi = stripe.PaymentIntent.create(
            amount=1200,
            payment_method="pm_card_visa",
            idempotency_key="legacy-1",
            stripe_version="2023-10-16",
            **OFF_SESSION,
        )
        same = stripe.PaymentIntent.create(
            amount=1200,
            payment_method="pm_card_visa",
            idempotency_key="legacy-1",
            stripe_version="2023-10-16",
            **OFF_SESSION,
        )
        assert stripe.PaymentIntent.retrieve(pi.id).status == "succeeded"
        account = stripe.Account.retrieve()
    assert same.id == pi.id and account.object == "account"


MALFORMED = [
    # (name, method, path, form data, expected status)
    ("unknown_url", "GET", "/v1/nothing", None, 404),
    ("wrong_method", "DELETE", "/v1/payment_intents", None, 404),
    ("missing_amount", "POST", "/v1/payment_intents", {"currency": "ron"}, 400),
    ("bad_integer", "POST", "/v1/payment_intents", {"amount": "ten", "currency": "ron"}, 400),
    (
        "bad_boolean",
        "POST",
        "/v1/payment_intents",
        {"amount": 500, "currency": "ron", "confirm": "yes"},
        400,
    ),
    ("bad_param_name", "POST", "/v1/customers", {"metadata[a]b": "x"}, 400),
    (
        "unknown_pm",
        "POST",
        "/v1/payment_intents",
        {"amount": 500, "currency": "ron", "payment_method": "pm_nope"},
        400,
    ),
    ("too_big", "POST", "/v1/customers", {"description": "x" * 5000}, 413),
]


def test_malformed_requests_get_invalid_request_errors(
    transport: str, ledger: Ledger, clock: Clock
) -> None:
    fake = FakePayments(ledger, clock, max_body_bytes=2048)
    auth = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
    with reach(transport, fake, "https://api.stripe.fake") as base:
        answers = {
            name: requests.request(method, base + path, headers=auth, data=data, timeout=5)
            for name, method, path, data, _ in MALFORMED
        }
    for name, _, _, _, status in MALFORMED:
        resp = answers[name]
        assert resp.status_code == status, name
        error = resp.json()["error"]
        assert error["type"] == "invalid_request_error", name
        assert error["message"] and "Traceback" not in resp.text
    assert answers["missing_amount"].json()["error"]["param"] == "amount"
    assert answers["bad_integer"].json()["error"]["code"] == "parameter_invalid_integer"
    assert fake.state.payment_intents == {} and fake.state.customers == {}
