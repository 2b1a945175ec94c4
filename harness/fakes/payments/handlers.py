"""One handler per Stripe operation, and the table that routes operation names to them.

A handler gets the fake's account (state, ids, clock, events), the object id from the URL and
the decoded parameters. It either returns an :class:`Outcome` or raises
:class:`~harness.fakes.payments.wire.StripeError`; it knows nothing of HTTP, authentication,
idempotency or faults, which the app applies around it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from harness.fakes.payments.state import PaymentsState
from harness.fakes.payments.wire import (
    StripeError,
    check_charge_amount,
    parse_amount,
    parse_bool,
    require,
)

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
_CARD_LAST4 = {"pm_card_chargeDeclined": "0002", "pm_card_authenticationRequired": "3155"}


@dataclass(frozen=True)
class Outcome:
    """What a handler did: the HTTP status and body, the external effect it had (for the
    ledger), and the id that names that effect when the request carried no business key."""

    status: int
    body: Any
    effect: str | None = None
    key: str | None = None


class Account(Protocol):
    """What a handler may use of the fake."""

    state: PaymentsState

    def new_id(self, prefix: str) -> str:
        """A fresh deterministic id (advances the fake's counter)."""
        ...

    def peek_id(self, prefix: str) -> str:
        """The id the counter's current value gives under ``prefix`` (no advance)."""
        ...

    def timestamp(self) -> int:
        """The virtual time as Stripe's unix ``created`` value."""
        ...

    def emit_event(self, kind: str, obj: dict[str, Any]) -> None:
        """Record an event (and queue its webhook)."""
        ...


Handler = Callable[[Account, "str | None", dict[str, Any]], Outcome]


# -- lookups -------------------------------------------------------------------------------------
def get_object(
    kind: str, table: dict[str, dict[str, Any]], object_id: str | None
) -> dict[str, Any]:
    if object_id not in table:
        raise StripeError(
            404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id"
        )
    return table[object_id]


def payment_method(account: Account, pm_id: str, param: str) -> dict[str, Any]:
    """A stored payment method, or a fresh card for one of Stripe's magic test ids."""
    if pm_id in account.state.payment_methods:
        return account.state.payment_methods[pm_id]
    if pm_id in TEST_PAYMENT_METHODS:
        # Stripe's magic test ids stand for a fresh card each time they are used.
        return {
            "id": pm_id,
            "object": "payment_method",
            "type": "card",
            "created": account.timestamp(),
            "customer": None,
            "card": {
                "brand": _CARD_BRANDS.get(pm_id, "visa"),
                "last4": _CARD_LAST4.get(pm_id, "4242"),
                "exp_month": 12,
                "exp_year": 2034,
            },
            "livemode": False,
        }
    raise StripeError(
        400 if param != "id" else 404,
        f"No such PaymentMethod: '{pm_id}'",
        code="resource_missing",
        param=param,
    )


def _behaviour(account: Account, pm_id: str) -> tuple[str, str, str] | None:
    pm = account.state.payment_methods.get(pm_id)
    source = pm.get("test_behaviour", pm_id) if pm else pm_id
    return TEST_PAYMENT_METHODS.get(source)


def _expand(account: Account, obj: dict[str, Any], expand: list[str]) -> dict[str, Any]:
    out = dict(obj)
    if "latest_charge" in expand and out.get("latest_charge"):
        out["latest_charge"] = account.state.charges[out["latest_charge"]]
    if "customer" in expand and out.get("customer"):
        out["customer"] = account.state.customers[out["customer"]]
    return out


# -- account and customers -----------------------------------------------------------------------
def retrieve_account(account: Account, object_id: str | None, params: dict[str, Any]) -> Outcome:
    body = {
        "id": "acct_dqharness",
        "object": "account",
        "charges_enabled": True,
        "country": "RO",
        "default_currency": "ron",
        "livemode": False,
    }
    return Outcome(200, body)


def create_customer(account: Account, object_id: str | None, params: dict[str, Any]) -> Outcome:
    customer = {
        "id": account.new_id("cus"),
        "object": "customer",
        "created": account.timestamp(),
        "email": params.get("email"),
        "name": params.get("name"),
        "description": params.get("description"),
        "metadata": params.get("metadata") or {},
        "invoice_settings": {"default_payment_method": None},
        "livemode": False,
    }
    account.state.customers[customer["id"]] = customer
    return Outcome(200, customer, "customer.created", customer["id"])


def retrieve_customer(account: Account, object_id: str | None, params: dict[str, Any]) -> Outcome:
    return Outcome(200, get_object("customer", account.state.customers, object_id))


# -- payment methods -----------------------------------------------------------------------------
def retrieve_payment_method(
    account: Account, object_id: str | None, params: dict[str, Any]
) -> Outcome:
    return Outcome(200, payment_method(account, object_id or "", "id"))


def attach_payment_method(
    account: Account, object_id: str | None, params: dict[str, Any]
) -> Outcome:
    pm_id = object_id or ""
    customer_id = require(params, "customer")
    get_object("customer", account.state.customers, customer_id)
    template = payment_method(account, pm_id, "payment_method")
    if template.get("customer") not in (None, customer_id):
        raise StripeError(
            400,
            "The payment method you provided has already been attached to a customer.",
            code="payment_method_unexpected_state",
        )
    pm = dict(template)
    if pm_id in TEST_PAYMENT_METHODS:
        pm["id"] = account.new_id("pm")
        pm["test_behaviour"] = pm_id
    pm["customer"] = customer_id
    account.state.payment_methods[pm["id"]] = pm
    return Outcome(200, pm, "payment_method.attached", pm["id"])


# -- payment intents -----------------------------------------------------------------------------
def create_payment_intent(
    account: Account, object_id: str | None, params: dict[str, Any]
) -> Outcome:
    amount = parse_amount(params.get("amount"))
    currency = require(params, "currency")
    check_charge_amount(amount, currency)
    customer_id = params.get("customer")
    if customer_id:
        get_object("customer", account.state.customers, customer_id)
    pm_id = params.get("payment_method")
    pm = payment_method(account, pm_id, "payment_method") if pm_id else None
    if pm and customer_id and pm.get("customer") not in (None, customer_id):
        raise StripeError(
            400,
            f"The provided PaymentMethod {pm_id} belongs to another customer.",
            param="payment_method",
        )
    confirm = parse_bool(params.get("confirm"), "confirm")
    off_session = parse_bool(params.get("off_session"), "off_session")
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
    pi = _new_intent(account, params, amount, currency, customer_id, pm_id)
    account.state.payment_intents[pi["id"]] = pi
    if not confirm:
        return Outcome(200, pi)
    return _confirm(account, pi, off_session)


def _new_intent(
    account: Account,
    params: dict[str, Any],
    amount: int,
    currency: str,
    customer_id: str | None,
    pm_id: str | None,
) -> dict[str, Any]:
    pi_id = account.new_id("pi")
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "capture_method": "automatic",
        "client_secret": f"{pi_id}_secret_{account.peek_id('s')[2:]}",
        "confirmation_method": "automatic",
        "created": account.timestamp(),
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


def _confirm(account: Account, pi: dict[str, Any], off_session: bool) -> Outcome:
    """Charge the intent's payment method as Stripe's test card would behave."""
    pm_id = pi["payment_method"]
    behaviour = _behaviour(account, pm_id or "")
    charge = _new_charge(account, pi, succeeded=behaviour is None)
    if behaviour is None:
        pi.update(status="succeeded", amount_received=pi["amount"], latest_charge=charge["id"])
        account.emit_event("payment_intent.succeeded", pi)
        return Outcome(200, pi, "charge.succeeded", pi["id"])
    if behaviour[0] == "authentication_required" and not off_session:
        pi.update(status="requires_action", next_action={"type": "use_stripe_sdk"})
        del account.state.charges[charge["id"]]
        return Outcome(200, pi)
    raise _decline(account, pi, charge["id"], pm_id, behaviour)


def _decline(
    account: Account,
    pi: dict[str, Any],
    charge_id: str,
    pm_id: str | None,
    behaviour: tuple[str, str, str],
) -> StripeError:
    """Record a declined charge on the intent; returns the 402 card error to raise."""
    code, decline_code, message = behaviour
    error = {
        "charge": charge_id,
        "code": code,
        "decline_code": decline_code,
        "message": message,
        "param": None,
        "payment_method": payment_method(account, pm_id or "", "payment_method"),
        "type": "card_error",
    }
    pi.update(
        status="requires_payment_method",
        latest_charge=charge_id,
        last_payment_error=error,
        payment_method=None,
    )
    account.emit_event("payment_intent.payment_failed", pi)
    return StripeError(
        402,
        message,
        type="card_error",
        code=code,
        extra={
            "decline_code": decline_code,
            "charge": charge_id,
            "payment_intent": dict(pi),
            "payment_method": error["payment_method"],
        },
    )


def _new_charge(account: Account, pi: dict[str, Any], *, succeeded: bool) -> dict[str, Any]:
    charge = {
        "id": account.new_id("ch"),
        "object": "charge",
        "amount": pi["amount"],
        "amount_refunded": 0,
        "created": account.timestamp(),
        "currency": pi["currency"],
        "customer": pi["customer"],
        "metadata": pi["metadata"],
        "paid": succeeded,
        "payment_intent": pi["id"],
        "refunded": False,
        "status": "succeeded" if succeeded else "failed",
    }
    account.state.charges[charge["id"]] = charge
    return charge


def retrieve_payment_intent(
    account: Account, object_id: str | None, params: dict[str, Any]
) -> Outcome:
    pi = get_object("payment_intent", account.state.payment_intents, object_id)
    return Outcome(200, _expand(account, pi, params.get("expand") or []))


# -- refunds -------------------------------------------------------------------------------------
def create_refund(account: Account, object_id: str | None, params: dict[str, Any]) -> Outcome:
    charge = _refundable_charge(account, params)
    remaining = charge["amount"] - charge["amount_refunded"]
    amount = parse_amount(params["amount"]) if "amount" in params else remaining
    if amount > remaining:
        raise StripeError(
            400,
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
            code="amount_too_large",
            param="amount",
        )
    refund = {
        "id": account.new_id("re"),
        "object": "refund",
        "amount": amount,
        "charge": charge["id"],
        "created": account.timestamp(),
        "currency": charge["currency"],
        "metadata": params.get("metadata") or {},
        "payment_intent": charge["payment_intent"],
        "reason": params.get("reason"),
        "status": "succeeded",
    }
    account.state.refunds[refund["id"]] = refund
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    account.emit_event("charge.refunded", charge)
    return Outcome(200, refund, "refund.created")


def _refundable_charge(account: Account, params: dict[str, Any]) -> dict[str, Any]:
    """The charge a refund request names (directly or by its intent), if it has money left."""
    pi_id, charge_id = params.get("payment_intent"), params.get("charge")
    if not pi_id and not charge_id:
        raise StripeError(
            400,
            "One of the following params should be provided for this "
            "request: payment_intent or charge.",
            code="parameter_missing",
        )
    if pi_id:
        pi = get_object("payment_intent", account.state.payment_intents, pi_id)
        if pi["status"] != "succeeded" or not pi["latest_charge"]:
            raise StripeError(
                400,
                f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        charge_id = pi["latest_charge"]
    charge = get_object("charge", account.state.charges, charge_id)
    if charge["amount"] - charge["amount_refunded"] <= 0:
        raise StripeError(
            400,
            f"Charge {charge_id} has already been refunded.",
            code="charge_already_refunded",
        )
    return charge


def retrieve_refund(account: Account, object_id: str | None, params: dict[str, Any]) -> Outcome:
    return Outcome(200, get_object("refund", account.state.refunds, object_id))


def list_refunds(account: Account, object_id: str | None, params: dict[str, Any]) -> Outcome:
    refunds = [
        r
        for r in account.state.refunds.values()
        if all(params.get(k) in (None, r[k]) for k in ("payment_intent", "charge"))
    ]
    refunds.sort(key=lambda r: r["created"], reverse=True)
    return Outcome(
        200, {"object": "list", "data": refunds, "has_more": False, "url": "/v1/refunds"}
    )


#: Operation name (as routed and as fault plans name it) → its handler.
HANDLERS: dict[str, Handler] = {
    "account.retrieve": retrieve_account,
    "customer.create": create_customer,
    "customer.retrieve": retrieve_customer,
    "payment_method.retrieve": retrieve_payment_method,
    "payment_method.attach": attach_payment_method,
    "payment_intent.create": create_payment_intent,
    "payment_intent.retrieve": retrieve_payment_intent,
    "refund.create": create_refund,
    "refund.retrieve": retrieve_refund,
    "refund.list": list_refunds,
}
