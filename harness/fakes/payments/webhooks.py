"""Stripe events and their webhook deliveries.

Handlers emit events; this module shapes them as Stripe does and POSTs them, signed, to the
platform's webhook URL. A delivery is an outbound call the platform did not make, so it is
recorded in the ledger as its own ``webhook.send`` entry, can be faulted like any operation,
and stays in the outbox until the receiver accepts it (redelivery after an outage).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from harness.fakes.payments.state import PendingWebhook
from harness.fakes.payments.wire import API_VERSION

if TYPE_CHECKING:
    from harness.fakes.payments.app import FakePayments


def new_event(
    event_id: str, kind: str, obj: dict[str, Any], created: int, *, webhooks: bool
) -> dict[str, Any]:
    """A Stripe ``event`` carrying a snapshot of ``obj`` as it is now."""
    return {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": json.loads(json.dumps(obj))},
        "livemode": False,
        "pending_webhooks": 1 if webhooks else 0,
        "type": kind,
    }


def deliver_pending(fake: FakePayments) -> int:
    """POST every undelivered event to ``webhook_url``; returns how many were accepted."""
    with fake.lock:  # claim events so concurrent requests never deliver one twice
        pending = [p for p in fake.outbox if not p.delivered and not p.in_flight]
        for item in pending:
            item.in_flight = True
    accepted = 0
    try:
        for item in pending:
            accepted += _deliver(fake, item)
    finally:
        with fake.lock:
            for item in pending:
                item.in_flight = False
            fake.outbox = [p for p in fake.outbox if not p.delivered]
    return accepted


def _deliver(fake: FakePayments, item: PendingWebhook) -> int:
    """One delivery attempt of one event (unless a fault drops it), recorded in the ledger."""
    assert fake.webhook_url is not None
    event = item.event
    obj = event["data"]["object"]
    key = obj.get("payment_intent") or obj.get("id")  # a charge is known by its intent
    fault = (
        fake.faults.decide(fake.name, "webhook.send", key, fake.now())
        if fake.faults is not None
        else None
    )
    payload = json.dumps(event, indent=2)
    item.attempts += 1
    detail: dict[str, Any] = {
        "event_id": event["id"],
        "event_type": event["type"],
        "url": fake.webhook_url,
        "delivery_attempt": item.attempts,
    }
    status = 0
    if fault is None or fault.mode == "latency":
        status = _post(fake, fake.webhook_url, payload, detail)
        item.delivered = 200 <= status < 300
    fake.ledger.record(
        fake=fake.name,
        method="POST",
        path=urlsplit(fake.webhook_url).path or "/",
        operation="webhook.send",
        business_key=key,
        status=status,
        fault=fault.mode if fault else None,
        detail=detail,
    )
    return int(item.delivered)


def _post(fake: FakePayments, url: str, payload: str, detail: dict[str, Any]) -> int:
    """Send the signed payload; the receiver's status, or 0 (noted in ``detail``) if it is down."""
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": fake.sign(payload),
    }
    try:
        response = fake.sender(url, data=payload, headers=headers, timeout=10)
        return int(getattr(response, "status_code", 0) or 0)
    except Exception as exc:  # the receiver is down: keep the event for redelivery
        detail["exception"] = type(exc).__name__
        return 0
