"""A stateful fake of the Stripe HTTP API subset used for off-session charging.

The real ``stripe`` SDK can be pointed at it (``StripeClient(key, base_addresses={"api": url})``
or ``stripe.api_base = url``). It speaks Stripe's wire format: form-encoded bodies with
``a[b]=c`` nesting, ``Authorization: Bearer sk_test_...``, JSON objects with ``object`` fields,
``{"error": {...}}`` bodies with Stripe's status codes (402 for card errors), and
``Idempotency-Key`` semantics: same key and same parameters replay the stored response (header
``Idempotent-Replayed: true``); same key with other parameters is a 400 ``idempotency_error``;
keys expire after 24 hours of virtual time. Webhook events are signed like Stripe's.

This package re-exports the public names of its modules:

- ``wire``: form decoding, :class:`StripeError`, parameter parsing, webhook signatures;
- ``state``: the stored objects, idempotency records and pending webhooks;
- ``handlers``: one handler per operation, the ``HANDLERS`` table and their :class:`Outcome`;
- ``webhooks``: event creation and delivery;
- ``app``: :class:`FakePayments` (routing, auth, idempotency, fault hooks).
"""

from __future__ import annotations

from harness.fakes.payments.app import _ROUTES as _ROUTES  # the route table, for plan tests
from harness.fakes.payments.app import (
    DEFAULT_BUSINESS_KEY_METADATA,
    DEFAULT_SECRET_KEY,
    DEFAULT_WEBHOOK_SECRET,
    FakePayments,
    Sender,
)
from harness.fakes.payments.handlers import HANDLERS, TEST_PAYMENT_METHODS, Handler, Outcome
from harness.fakes.payments.state import (
    IDEMPOTENCY_TTL,
    PaymentsState,
    PendingWebhook,
    StoredResponse,
)
from harness.fakes.payments.wire import API_VERSION, StripeError, decode_form

__all__ = [
    "API_VERSION",
    "DEFAULT_BUSINESS_KEY_METADATA",
    "DEFAULT_SECRET_KEY",
    "DEFAULT_WEBHOOK_SECRET",
    "HANDLERS",
    "IDEMPOTENCY_TTL",
    "TEST_PAYMENT_METHODS",
    "FakePayments",
    "Handler",
    "Outcome",
    "PaymentsState",
    "PendingWebhook",
    "Sender",
    "StoredResponse",
    "StripeError",
    "decode_form",
]
