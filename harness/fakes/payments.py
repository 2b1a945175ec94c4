"""A stateful fake of the Stripe HTTP API subset used for off-session charging.

The real ``stripe`` SDK can be pointed at it (``StripeClient(key, base_addresses={"api": url})``
or ``stripe.api_base = url``). It speaks Stripe's wire format: form-encoded bodies with
``a[b]=c`` nesting, ``Authorization: Bearer sk_test_...``, JSON objects with ``object`` fields,
``{"error": {...}}`` bodies with Stripe's status codes (402 for card errors), and
``Idempotency-Key`` semantics: same key and same parameters replay the stored response (header
``Idempotent-Replayed: true``); same key with other parameters is a 400 ``idempotency_error``;
keys expire after 24 hours of virtual time. Webhook events are signed like Stripe's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from werkzeug.wrappers import Request

from harness.fakes.base import Attribution, Call, FakeApp, Reply, make_id
from harness.fakes.faults import Fault, FaultInjector
from harness.fakes.ledger import Ledger
from harness.fakes.operations import PAYMENTS

DEFAULT_SECRET_KEY = "sk_test_dqharness"
DEFAULT_WEBHOOK_SECRET = "whsec_dqharness"
IDEMPOTENCY_TTL = timedelta(hours=24)
API_VERSION = "2023-10-16"
DEFAULT_BUSINESS_KEY_METADATA = ("business_key", "invoice_id", "order_id")

#: Stripe's test payment methods and what confirming them off-session does.
#: value: None = succeeds, else (code, decline_code, message).
TEST_PAYMENT_METHODS: dict[str, tuple[str, str, str] | None] = {
    "pm_card_visa": None,
    "pm_card_visa_debit": None,
    "pm_card_mastercard": None,
    "pm_card_amex": None,
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card", "Your card has expired."),
    "pm_card_authenticationRequired": (
        "authentication_required",
        "authentication_required",
        "Your card was declined. This transaction requires authentication.",
    ),
}
_CARD_BRANDS = {"pm_card_mastercard": "mastercard", "pm_card_amex": "amex"}

Sender = Callable[..., Any]


class StripeError(Exception):
    """Raised inside a handler to answer with Stripe's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "type": type}
        if code:
            self.body["code"] = code
            self.body["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.body["param"] = param
        self.body.update(extra or {})


@dataclass
class StoredResponse:
    """What Stripe keeps per idempotency key."""

    created: datetime
    fingerprint: tuple[Any, ...]
    status: int
    body: Any


@dataclass
class PendingWebhook:
    event: dict[str, Any]
    attempts: int = 0
    delivered: bool = False
    in_flight: bool = False


@dataclass
class PaymentsState:
    """Inspectable state: every object by id, plus the idempotency store and events."""

    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, StoredResponse] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)


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


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``metadata[k]=v``, ``expand[0]=x``, ``a[]=y``) → nested data."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        m = re.match(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$", key)
        if not m:
            raise StripeError(400, f"Invalid parameter name: {key}", param=key)
        parts = [m.group(1), *re.findall(r"\[([^\[\]]*)\]", m.group(2))]
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":
                part = str(sum(1 for k in node if k.isdigit()))
            if last:
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise StripeError(400, f"Invalid parameter: {key}", param=key)
                node = child
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def _bool(value: Any, param: str) -> bool:
    if value in (None, "false", False):
        return False
    if value in ("true", True):
        return True
    raise StripeError(
        400, f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=param
    )


def _amount(value: Any, param: str = "amount") -> int:
    if value is None:
        raise StripeError(
            400, f"Missing required param: {param}.", code="parameter_missing", param=param
        )
    try:
        amount = int(value)
    except (TypeError, ValueError):
        raise StripeError(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param
        ) from None
    if amount < 1:
        raise StripeError(
            400,
            "This value must be greater than or equal to 1.",
            code="parameter_invalid_integer",
            param=param,
        )
    return amount


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

    # -- helpers -----------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        self._counter += 1
        return make_id(self.seed, prefix, self._counter)

    def _ts(self) -> int:
        return int(self.now().timestamp())

    def _business_key(self, params: dict[str, Any], idem: str | None) -> tuple[str | None, str]:
        """The business key and where it came from (``metadata.<name>``, ``idempotency_key``
        or ``none``); the duplicate-effects checker reports effects that had none."""
        metadata = params.get("metadata")
        if isinstance(metadata, dict):
            for key in self.business_key_metadata:
                if metadata.get(key):
                    return str(metadata[key]), f"metadata.{key}"
        return idem, ("idempotency_key" if idem else "none")

    # -- routing -----------------------------------------------------------------------------
    def route(self, request: Request) -> Call | Reply:
        operation = None
        match = None
        for method, pattern, op in _ROUTES:
            m = pattern.match(request.path)
            if m and request.method == method:
                operation, match = op, m
                break
        if operation is None or match is None:
            return self._error(
                StripeError(
                    404,
                    f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                    "https://stripe.com/docs or we can help at https://support.stripe.com/.",
                )
            )
        try:
            pairs = request.form.items(multi=True) if request.method == "POST" else []
            params = decode_form([*request.args.items(multi=True), *pairs])
        except StripeError as exc:
            return self._error(exc, operation)
        idem = request.headers.get("Idempotency-Key")
        object_id = match.groupdict().get("id")
        # Only money movements fall back to the idempotency key: the SDK invents a random key for
        # every POST without one, which would make other business keys unreproducible.
        money = operation in ("payment_intent.create", "refund.create")
        business_key, key_from = self._business_key(params, idem if money else None)
        business_key = business_key or object_id
        if operation == "refund.create" and business_key in (idem, None):
            # A refund's natural identity is what it refunds.
            business_key = params.get("payment_intent") or params.get("charge") or idem
        if operation == "payment_method.attach":
            business_key = params.get("customer") or business_key
        detail: dict[str, Any] = {"params": params}
        if money:
            detail["business_key_from"] = key_from
            detail["business_key_metadata"] = list(self.business_key_metadata)
        if idem:
            detail["idempotency_key"] = idem
        fingerprint = (request.method, request.path, tuple(sorted(request.form.items(multi=True))))

        def run() -> Reply:
            auth = self._check_auth(request)
            if auth is not None:
                return auth
            if request.method == "POST" and idem:
                replay = self._idempotent(idem, fingerprint)
                if replay is not None:
                    return replay
            try:
                status, body, effect, fallback = self._dispatch(operation, object_id, params)
                # The created object's id names the effect only when nothing better exists.
                key = fallback if business_key is None else None
                reply = Reply(status, body, effect=effect, business_key=key)
            except StripeError as exc:
                reply = self._error(exc, operation)
            if request.method == "POST" and idem and reply.status in (200, 402):
                self.state.idempotency[idem] = StoredResponse(
                    self.now(), fingerprint, reply.status, reply.body
                )
            reply.headers["Request-Id"] = self._id("req")
            return reply

        return Call(operation, business_key, run, detail=detail)

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
        reply = self._error(StripeError(401, message))
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
            return self._error(
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

    def _error(self, exc: StripeError, operation: str | None = None) -> Reply:
        return Reply(
            exc.status, {"error": exc.body}, operation=operation, detail={"error": exc.body}
        )

    def error_reply(self, status: int, message: str, call: Call | None) -> Reply:
        kind = "api_error" if status >= 500 else "invalid_request_error"
        reply = self._error(StripeError(status, message, type=kind))
        if status >= 500:
            reply.headers["Stripe-Should-Retry"] = "true"
        return reply

    def rate_limit_reply(self, fault: Fault, call: Call) -> Reply:
        reply = self._error(
            StripeError(
                429,
                fault.message or "Request rate limit exceeded. Try again later.",
                code="rate_limit",
            )
        )
        reply.headers["Retry-After"] = str(fault.retry_after or 0)
        return reply

    # -- operations --------------------------------------------------------------------------
    def _dispatch(
        self, operation: str, object_id: str | None, params: dict[str, Any]
    ) -> tuple[int, Any, str | None, str | None]:
        """Returns (status, body, effect, business key override)."""
        if operation == "account.retrieve":
            return (
                200,
                {
                    "id": "acct_dqharness",
                    "object": "account",
                    "charges_enabled": True,
                    "country": "RO",
                    "default_currency": "ron",
                    "livemode": False,
                },
                None,
                None,
            )
        if operation == "customer.create":
            customer = {
                "id": self._id("cus"),
                "object": "customer",
                "created": self._ts(),
                "email": params.get("email"),
                "name": params.get("name"),
                "description": params.get("description"),
                "metadata": params.get("metadata") or {},
                "invoice_settings": {"default_payment_method": None},
                "livemode": False,
            }
            self.state.customers[customer["id"]] = customer
            return 200, customer, "customer.created", customer["id"]
        if operation == "customer.retrieve":
            return 200, self._get("customer", self.state.customers, object_id), None, None
        if operation == "payment_method.retrieve":
            return 200, self._payment_method(object_id or "", "id"), None, None
        if operation == "payment_method.attach":
            return self._attach(object_id or "", params)
        if operation == "payment_intent.create":
            return self._create_intent(params)
        if operation == "payment_intent.retrieve":
            pi = self._get("payment_intent", self.state.payment_intents, object_id)
            return 200, self._expand(pi, params.get("expand") or []), None, None
        if operation == "refund.create":
            return self._refund(params)
        if operation == "refund.retrieve":
            return 200, self._get("refund", self.state.refunds, object_id), None, None
        if operation == "refund.list":
            refunds = [
                r
                for r in self.state.refunds.values()
                if all(params.get(k) in (None, r[k]) for k in ("payment_intent", "charge"))
            ]
            refunds.sort(key=lambda r: r["created"], reverse=True)
            body = {"object": "list", "data": refunds, "has_more": False, "url": "/v1/refunds"}
            return 200, body, None, None
        raise StripeError(404, f"Unrecognized operation {operation}")  # pragma: no cover

    def _get(
        self, kind: str, table: dict[str, dict[str, Any]], object_id: str | None
    ) -> dict[str, Any]:
        if object_id not in table:
            raise StripeError(
                404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id"
            )
        return table[object_id]

    def _payment_method(self, pm_id: str, param: str) -> dict[str, Any]:
        if pm_id in self.state.payment_methods:
            return self.state.payment_methods[pm_id]
        if pm_id in TEST_PAYMENT_METHODS:
            # Stripe's magic test ids stand for a fresh card each time they are used.
            last4 = {"pm_card_chargeDeclined": "0002", "pm_card_authenticationRequired": "3155"}
            pm = {
                "id": pm_id,
                "object": "payment_method",
                "type": "card",
                "created": self._ts(),
                "customer": None,
                "card": {
                    "brand": _CARD_BRANDS.get(pm_id, "visa"),
                    "last4": last4.get(pm_id, "4242"),
                    "exp_month": 12,
                    "exp_year": 2034,
                },
                "livemode": False,
            }
            return pm
        raise StripeError(
            400 if param != "id" else 404,
            f"No such PaymentMethod: '{pm_id}'",
            code="resource_missing",
            param=param,
        )

    def _attach(
        self, pm_id: str, params: dict[str, Any]
    ) -> tuple[int, Any, str | None, str | None]:
        customer_id = params.get("customer")
        if not customer_id:
            raise StripeError(
                400, "Missing required param: customer.", code="parameter_missing", param="customer"
            )
        self._get("customer", self.state.customers, customer_id)
        template = self._payment_method(pm_id, "payment_method")
        if template.get("customer") not in (None, customer_id):
            raise StripeError(
                400,
                "The payment method you provided has already been attached to a customer.",
                code="payment_method_unexpected_state",
            )
        pm = dict(template)
        if pm_id in TEST_PAYMENT_METHODS:
            pm["id"] = self._id("pm")
            pm["test_behaviour"] = pm_id
        pm["customer"] = customer_id
        self.state.payment_methods[pm["id"]] = pm
        return 200, pm, "payment_method.attached", pm["id"]

    def _behaviour(self, pm_id: str) -> tuple[str, str, str] | None:
        pm = self.state.payment_methods.get(pm_id)
        source = pm.get("test_behaviour", pm_id) if pm else pm_id
        return TEST_PAYMENT_METHODS.get(source)

    def _create_intent(self, params: dict[str, Any]) -> tuple[int, Any, str | None, str | None]:
        amount = _amount(params.get("amount"))
        currency = params.get("currency")
        if not currency:
            raise StripeError(
                400, "Missing required param: currency.", code="parameter_missing", param="currency"
            )
        customer_id = params.get("customer")
        if customer_id:
            self._get("customer", self.state.customers, customer_id)
        pm_id = params.get("payment_method")
        pm = self._payment_method(pm_id, "payment_method") if pm_id else None
        if pm and customer_id and pm.get("customer") not in (None, customer_id):
            raise StripeError(
                400,
                f"The provided PaymentMethod {pm_id} belongs to another customer.",
                param="payment_method",
            )
        confirm = _bool(params.get("confirm"), "confirm")
        off_session = _bool(params.get("off_session"), "off_session")
        if off_session and not confirm:
            raise StripeError(
                400, "off_session can only be used with confirm=true.", param="off_session"
            )
        if confirm and not pm_id:
            raise StripeError(
                400,
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
            )
        pi_id = self._id("pi")
        pi: dict[str, Any] = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "capture_method": "automatic",
            "client_secret": f"{pi_id}_secret_{make_id(self.seed, 's', self._counter)[2:]}",
            "confirmation_method": "automatic",
            "created": self._ts(),
            "currency": currency.lower(),
            "customer": customer_id,
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "next_action": None,
            "payment_method": pm_id,
            "payment_method_types": params.get("payment_method_types") or ["card"],
            "status": "requires_payment_method" if not pm_id else "requires_confirmation",
        }
        self.state.payment_intents[pi_id] = pi
        if not confirm:
            return 200, pi, None, None
        outcome = self._behaviour(pm_id or "")
        charge = self._charge(pi, succeeded=outcome is None)
        if outcome is None:
            pi.update(status="succeeded", amount_received=amount, latest_charge=charge["id"])
            self._event("payment_intent.succeeded", pi)
            return 200, pi, "charge.succeeded", pi_id
        code, decline_code, message = outcome
        if code == "authentication_required" and not off_session:
            pi.update(status="requires_action", next_action={"type": "use_stripe_sdk"})
            del self.state.charges[charge["id"]]
            return 200, pi, None, None
        error = {
            "charge": charge["id"],
            "code": code,
            "decline_code": decline_code,
            "message": message,
            "param": None,
            "payment_method": self._payment_method(pm_id or "", "payment_method"),
            "type": "card_error",
        }
        pi.update(
            status="requires_payment_method",
            latest_charge=charge["id"],
            last_payment_error=error,
            payment_method=None,
        )
        self._event("payment_intent.payment_failed", pi)
        raise StripeError(
            402,
            message,
            type="card_error",
            code=code,
            extra={
                "decline_code": decline_code,
                "charge": charge["id"],
                "payment_intent": dict(pi),
                "payment_method": error["payment_method"],
            },
        )

    def _charge(self, pi: dict[str, Any], *, succeeded: bool) -> dict[str, Any]:
        charge = {
            "id": self._id("ch"),
            "object": "charge",
            "amount": pi["amount"],
            "amount_refunded": 0,
            "created": self._ts(),
            "currency": pi["currency"],
            "customer": pi["customer"],
            "metadata": pi["metadata"],
            "paid": succeeded,
            "payment_intent": pi["id"],
            "refunded": False,
            "status": "succeeded" if succeeded else "failed",
        }
        self.state.charges[charge["id"]] = charge
        return charge

    def _expand(self, obj: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        out = dict(obj)
        if "latest_charge" in expand and out.get("latest_charge"):
            out["latest_charge"] = self.state.charges[out["latest_charge"]]
        if "customer" in expand and out.get("customer"):
            out["customer"] = self.state.customers[out["customer"]]
        return out

    def _refund(self, params: dict[str, Any]) -> tuple[int, Any, str | None, str | None]:
        pi_id, charge_id = params.get("payment_intent"), params.get("charge")
        if not pi_id and not charge_id:
            raise StripeError(
                400,
                "One of the following params should be provided for this "
                "request: payment_intent or charge.",
                code="parameter_missing",
            )
        if pi_id:
            pi = self._get("payment_intent", self.state.payment_intents, pi_id)
            if pi["status"] != "succeeded" or not pi["latest_charge"]:
                raise StripeError(
                    400,
                    f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                    param="payment_intent",
                )
            charge_id = pi["latest_charge"]
        charge = self._get("charge", self.state.charges, charge_id)
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise StripeError(
                400,
                f"Charge {charge_id} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = _amount(params["amount"]) if "amount" in params else remaining
        if amount > remaining:
            raise StripeError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining})",
                code="amount_too_large",
                param="amount",
            )
        refund = {
            "id": self._id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge_id,
            "created": self._ts(),
            "currency": charge["currency"],
            "metadata": params.get("metadata") or {},
            "payment_intent": charge["payment_intent"],
            "reason": params.get("reason"),
            "status": "succeeded",
        }
        self.state.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        self._event("charge.refunded", charge)
        return 200, refund, "refund.created", None

    # -- webhooks ----------------------------------------------------------------------------
    def _event(self, kind: str, obj: dict[str, Any]) -> None:
        event = {
            "id": self._id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self._ts(),
            "data": {"object": json.loads(json.dumps(obj))},
            "livemode": False,
            "pending_webhooks": 1 if self.webhook_url else 0,
            "type": kind,
        }
        self.state.events.append(event)
        if self.webhook_url:
            self.outbox.append(PendingWebhook(event))

    def sign(self, payload: str, timestamp: int | None = None) -> str:
        """A ``Stripe-Signature`` header for ``payload`` at virtual time (or ``timestamp``)."""
        t = self._ts() if timestamp is None else timestamp
        mac = hmac.new(self.webhook_secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256)
        return f"t={t},v1={mac.hexdigest()}"

    def after_request(self) -> None:
        if self.deliver_mode == "immediate":
            self.deliver_webhooks()

    def deliver_webhooks(self) -> int:
        """POST every undelivered event to ``webhook_url``; returns how many were accepted."""
        with self.lock:  # claim events so concurrent requests never deliver one twice
            pending = [p for p in self.outbox if not p.delivered and not p.in_flight]
            for item in pending:
                item.in_flight = True
        accepted = 0
        try:
            for item in pending:
                accepted += self._deliver(item)
        finally:
            with self.lock:
                for item in pending:
                    item.in_flight = False
                self.outbox = [p for p in self.outbox if not p.delivered]
        return accepted

    def _deliver(self, item: PendingWebhook) -> int:
        assert self.webhook_url is not None
        event = item.event
        obj = event["data"]["object"]
        key = obj.get("payment_intent") or obj.get("id")  # a charge is known by its intent
        fault = (
            self.faults.decide(self.name, "webhook.send", key, self.now())
            if self.faults is not None
            else None
        )
        payload = json.dumps(event, indent=2)
        item.attempts += 1
        detail: dict[str, Any] = {
            "event_id": event["id"],
            "event_type": event["type"],
            "url": self.webhook_url,
            "delivery_attempt": item.attempts,
        }
        status = 0
        if fault is None or fault.kind == "latency":
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": self.sign(payload),
            }
            try:
                response = self.sender(self.webhook_url, data=payload, headers=headers, timeout=10)
                status = int(getattr(response, "status_code", 0) or 0)
            except Exception as exc:  # the receiver is down: keep the event for redelivery
                detail["exception"] = type(exc).__name__
            item.delivered = 200 <= status < 300
        self.ledger.record(
            fake=self.name,
            method="POST",
            path=urlsplit(self.webhook_url).path or "/",
            operation="webhook.send",
            business_key=key,
            status=status,
            fault=fault.kind if fault else None,
            detail=detail,
        )
        return int(item.delivered)
