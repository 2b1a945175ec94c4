"""The payments fake as a WSGI app: routing, authentication, idempotency and fault hooks.

It turns an HTTP request into a :class:`~harness.fakes.base.Call` (operation, business key,
ledger detail) and, when the base class runs it, checks the API key, replays or rejects reused
idempotency keys, and hands the decoded parameters to the operation's handler
(:data:`~harness.fakes.payments.handlers.HANDLERS`). It also owns the fake's id counter and clock,
which handlers and webhooks use through it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import requests
from werkzeug.wrappers import Request

from harness.fakes.base import Attribution, Call, FakeApp, Reply, make_id
from harness.fakes.faults import Fault, FaultInjector
from harness.fakes.ledger import Ledger
from harness.fakes.operations import PAYMENTS
from harness.fakes.payments.handlers import HANDLERS, Outcome
from harness.fakes.payments.state import (
    IDEMPOTENCY_TTL,
    PaymentsState,
    PendingWebhook,
    StoredResponse,
)
from harness.fakes.payments.webhooks import deliver_pending, new_event
from harness.fakes.payments.wire import StripeError, decode_form, error_reply, sign_payload

DEFAULT_SECRET_KEY = "sk_test_dqharness"
DEFAULT_WEBHOOK_SECRET = "whsec_dqharness"
DEFAULT_BUSINESS_KEY_METADATA = ("business_key", "invoice_id", "order_id")

Sender = Callable[..., Any]

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"^/v1/customers$"), "customer.create"),
    ("GET", re.compile(r"^/v1/customers/(?P<id>[^/]+)$"), "customer.retrieve"),
    ("POST", re.compile(r"^/v1/payment_methods/(?P<id>[^/]+)/attach$"), "payment_method.attach"),
    ("GET", re.compile(r"^/v1/payment_methods/(?P<id>[^/]+)$"), "payment_method.retrieve"),
    ("POST", re.compile(r"^/v1/payment_intents$"), "payment_intent.create"),
    ("GET", re.compile(r"^/v1/payment_intents/(?P<id>[^/]+)$"), "payment_intent.retrieve"),
    ("POST", re.compile(r"^/v1/refunds$"), "refund.create"),
    ("GET", re.compile(r"^/v1/refunds$"), "refund.list"),
    ("GET", re.compile(r"^/v1/refunds/(?P<id>[^/]+)$"), "refund.retrieve"),
    ("GET", re.compile(r"^/v1/account$"), "account.retrieve"),
]

#: Operations that move money: only these fall back to the idempotency key as business key.
_MONEY_OPERATIONS = ("payment_intent.create", "refund.create")


def _match_route(method: str, path: str) -> tuple[str, str | None] | None:
    """The operation and URL object id for a request, or None if Stripe has no such route."""
    for route_method, pattern, operation in _ROUTES:
        m = pattern.match(path)
        if m and method == route_method:
            return operation, m.groupdict().get("id")
    return None


class FakePayments(FakeApp):
    """WSGI app imitating Stripe's v1 API for customers, payment methods, intents and refunds."""

    name = PAYMENTS

    def __init__(
        self,
        ledger: Ledger,
        now: Callable[[], datetime],
        faults: FaultInjector | None = None,
        *,
        secret_key: str = DEFAULT_SECRET_KEY,
        seed: int | str = 0,
        webhook_url: str | None = None,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        sender: Sender | None = None,
        deliver_webhooks: str = "immediate",
        business_key_metadata: Iterable[str] = DEFAULT_BUSINESS_KEY_METADATA,
        attribution: Attribution | None = None,
        max_body_bytes: int | None = None,
    ) -> None:
        super().__init__(
            ledger, now, faults, attribution=attribution, max_body_bytes=max_body_bytes
        )
        if deliver_webhooks not in ("immediate", "manual"):
            raise ValueError("deliver_webhooks must be 'immediate' or 'manual'")
        self.secret_key = secret_key
        self.seed = seed
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.sender: Sender = sender or requests.post
        self.deliver_mode = deliver_webhooks
        self.business_key_metadata = tuple(business_key_metadata)
        self.state = PaymentsState()
        self.outbox: list[PendingWebhook] = []
        self._counter = 0

    # -- what handlers use (handlers.Account) ------------------------------------------------
    def new_id(self, prefix: str) -> str:
        self._counter += 1
        return make_id(self.seed, prefix, self._counter)

    def peek_id(self, prefix: str) -> str:
        return make_id(self.seed, prefix, self._counter)

    def timestamp(self) -> int:
        return int(self.now().timestamp())

    def emit_event(self, kind: str, obj: dict[str, Any]) -> None:
        event = new_event(
            self.new_id("evt"), kind, obj, self.timestamp(), webhooks=bool(self.webhook_url)
        )
        self.state.events.append(event)
        if self.webhook_url:
            self.outbox.append(PendingWebhook(event))

    # -- routing -----------------------------------------------------------------------------
    def route(self, request: Request) -> Call | Reply:
        found = _match_route(request.method, request.path)
        if found is None:
            return error_reply(
                StripeError(
                    404,
                    f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                    "https://stripe.com/docs or we can help at https://support.stripe.com/.",
                )
            )
        operation, object_id = found
        try:
            pairs = request.form.items(multi=True) if request.method == "POST" else []
            params = decode_form([*request.args.items(multi=True), *pairs])
        except StripeError as exc:
            return error_reply(exc, operation)
        idem = request.headers.get("Idempotency-Key")
        money = operation in _MONEY_OPERATIONS
        business_key, key_from = self._call_business_key(operation, object_id, params, idem)
        detail: dict[str, Any] = {"params": params}
        if money:
            detail["business_key_from"] = key_from
            detail["business_key_metadata"] = list(self.business_key_metadata)
        if idem:
            detail["idempotency_key"] = idem
        fingerprint = (request.method, request.path, tuple(sorted(request.form.items(multi=True))))

        def run() -> Reply:
            return self._perform(
                request, operation, object_id, params, idem, fingerprint, business_key is None
            )

        return Call(operation, business_key, run, detail=detail)

    def _business_key(self, params: dict[str, Any], idem: str | None) -> tuple[str | None, str]:
        """The business key and where it came from (``metadata.<name>``, ``idempotency_key``
        or ``none``); the duplicate-effects checker reports effects that had none."""
        metadata = params.get("metadata")
        if isinstance(metadata, dict):
            for key in self.business_key_metadata:
                if metadata.get(key):
                    return str(metadata[key]), f"metadata.{key}"
        return idem, ("idempotency_key" if idem else "none")

    def _call_business_key(
        self, operation: str, object_id: str | None, params: dict[str, Any], idem: str | None
    ) -> tuple[str | None, str]:
        """The business key a request is known by in fault plans and the ledger, and where the
        metadata/idempotency part of it came from."""
        # Only money movements fall back to the idempotency key: the SDK invents a random key for
        # every POST without one, which would make other business keys unreproducible.
        money = operation in _MONEY_OPERATIONS
        business_key, key_from = self._business_key(params, idem if money else None)
        business_key = business_key or object_id
        if operation == "refund.create" and business_key in (idem, None):
            # A refund's natural identity is what it refunds.
            business_key = params.get("payment_intent") or params.get("charge") or idem
        if operation == "payment_method.attach":
            business_key = params.get("customer") or business_key
        return business_key, key_from

    # -- performing a call -------------------------------------------------------------------
    def _perform(
        self,
        request: Request,
        operation: str,
        object_id: str | None,
        params: dict[str, Any],
        idem: str | None,
        fingerprint: tuple[Any, ...],
        keyless: bool,
    ) -> Reply:
        """Authenticate, replay an idempotent retry or run the handler, and store the answer
        under the idempotency key. ``keyless``: the request had no business key, so the created
        object's id names the effect."""
        auth = self._check_auth(request)
        if auth is not None:
            return auth
        if request.method == "POST" and idem:
            replay = self._idempotent(idem, fingerprint)
            if replay is not None:
                return replay
        try:
            outcome = self._dispatch(operation, object_id, params)
            key = outcome.key if keyless else None
            reply = Reply(outcome.status, outcome.body, effect=outcome.effect, business_key=key)
        except StripeError as exc:
            reply = error_reply(exc, operation)
        if request.method == "POST" and idem and reply.status in (200, 402):
            self.state.idempotency[idem] = StoredResponse(
                self.now(), fingerprint, reply.status, reply.body
            )
        reply.headers["Request-Id"] = self.new_id("req")
        return reply

    def _dispatch(self, operation: str, object_id: str | None, params: dict[str, Any]) -> Outcome:
        handler = HANDLERS.get(operation)
        if handler is None:  # pragma: no cover - every route names a handler
            raise StripeError(404, f"Unrecognized operation {operation}")
        return handler(self, object_id, params)

    def _check_auth(self, request: Request) -> Reply | None:
        header = request.headers.get("Authorization", "")
        key = None
        if header.lower().startswith("bearer "):
            key = header[7:].strip()
        elif request.authorization is not None and request.authorization.username:
            key = request.authorization.username
        if not key:
            message = (
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth "
                "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
            )
        elif key != self.secret_key:
            message = f"Invalid API Key provided: {key[:8]}{'*' * 8}{key[-4:]}"
        else:
            return None
        reply = error_reply(StripeError(401, message))
        reply.headers["WWW-Authenticate"] = 'Bearer realm="Stripe"'
        return reply

    def _idempotent(self, key: str, fingerprint: tuple[Any, ...]) -> Reply | None:
        stored = self.state.idempotency.get(key)
        if stored is None:
            return None
        if self.now() - stored.created >= IDEMPOTENCY_TTL:
            del self.state.idempotency[key]  # Stripe prunes keys after 24 hours
            return None
        if stored.fingerprint != fingerprint:
            return error_reply(
                StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they "
                    f"were first used with. Try using a key other than '{key}' if you meant to "
                    "execute a different request.",
                    type="idempotency_error",
                )
            )
        return Reply(
            stored.status,
            stored.body,
            headers={"Idempotent-Replayed": "true", "Original-Request": key},
            detail={"idempotent_replayed": True},
        )

    # -- fault hooks (FakeApp) ---------------------------------------------------------------
    def error_reply(self, status: int, message: str, call: Call | None) -> Reply:
        kind = "api_error" if status >= 500 else "invalid_request_error"
        reply = error_reply(StripeError(status, message, type=kind))
        if status >= 500:
            reply.headers["Stripe-Should-Retry"] = "true"
        return reply

    def rate_limit_reply(self, fault: Fault, call: Call) -> Reply:
        reply = error_reply(
            StripeError(
                429,
                fault.message or "Request rate limit exceeded. Try again later.",
                code="rate_limit",
            )
        )
        reply.headers["Retry-After"] = str(fault.retry_after or 0)
        return reply

    # -- webhooks ----------------------------------------------------------------------------
    def sign(self, payload: str, timestamp: int | None = None) -> str:
        """A ``Stripe-Signature`` header for ``payload`` at virtual time (or ``timestamp``)."""
        t = self.timestamp() if timestamp is None else timestamp
        return sign_payload(self.webhook_secret, payload, t)

    def after_request(self) -> None:
        if self.deliver_mode == "immediate":
            self.deliver_webhooks()

    def deliver_webhooks(self) -> int:
        """POST every undelivered event to ``webhook_url``; returns how many were accepted."""
        return deliver_pending(self)
