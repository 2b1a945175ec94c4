"""Stripe's wire format, with no state: form decoding, parameter parsing, errors, signatures.

Everything here is a pure function of its arguments, so the handlers and the app can share it
and it can be tested without a fake: ``a[b]=c`` form nesting, Stripe's ``{"error": {...}}`` shape
(:class:`StripeError`), the integer and boolean parameter rules, and the ``Stripe-Signature``
header webhook receivers verify.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import Any

from harness.fakes.base import Reply

API_VERSION = "2023-10-16"


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


def error_reply(exc: StripeError, operation: str | None = None) -> Reply:
    """The reply (and ledger detail) for a :class:`StripeError`."""
    return Reply(exc.status, {"error": exc.body}, operation=operation, detail={"error": exc.body})


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


def parse_bool(value: Any, param: str) -> bool:
    """A boolean parameter as Stripe reads it (absent is false)."""
    if value in (None, "false", False):
        return False
    if value in ("true", True):
        return True
    raise StripeError(
        400, f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=param
    )


def parse_amount(value: Any, param: str = "amount") -> int:
    """A required positive integer amount in the smallest currency unit."""
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


MAX_AMOUNT = 99_999_999
"""Stripe's largest amount in any currency: eight digits of the smallest unit (the SDK's own
documentation of ``amount``: "a value of 99999999 for a USD charge of $999,999.99")."""
MINIMUM_CHARGE = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50, "czk": 1500,
    "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50, "jpy": 50, "mxn": 1000,
    "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200, "sek": 300, "sgd": 50, "thb": 1000,
}  # fmt: skip
"""Stripe's minimum charge per currency, in the smallest unit (docs.stripe.com/currencies,
"Minimum and maximum charge amounts": $0.50, 2.00 lei, £0.30, ¥50, …). Another currency must
convert to at least $0.50, which a fake without exchange rates cannot tell: only the maximum
applies to it."""
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd"}
    | {"vuv", "xaf", "xof", "xpf"}
)
"""Currencies whose smallest unit is the unit itself (an amount of 500 JPY is ¥500)."""


def _major(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL:
        return f"{amount:,} {currency}"
    return f"{amount // 100:,}.{amount % 100:02d} {currency}"


def check_charge_amount(amount: int, currency: str) -> None:
    """Stripe's bounds on a charge: its currency's minimum and the eight-digit maximum, answered
    with Stripe's codes (``amount_too_small`` / ``amount_too_large``, 400)."""
    currency = str(currency).lower()
    minimum = MINIMUM_CHARGE.get(currency)
    if minimum is not None and amount < minimum:
        raise StripeError(
            400,
            f"Amount must be at least {_major(minimum, currency)}",
            code="amount_too_small",
            param="amount",
        )
    if amount > MAX_AMOUNT:
        raise StripeError(
            400,
            f"Amount must be no more than {_major(MAX_AMOUNT, currency)}",
            code="amount_too_large",
            param="amount",
        )


def require(params: dict[str, Any], param: str) -> Any:
    """A required parameter's value, or Stripe's ``parameter_missing`` error."""
    value = params.get(param)
    if not value:
        raise StripeError(
            400, f"Missing required param: {param}.", code="parameter_missing", param=param
        )
    return value


def sign_payload(secret: str, payload: str, timestamp: int) -> str:
    """A ``Stripe-Signature`` header value for ``payload`` signed at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"
