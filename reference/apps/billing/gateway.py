"""Payment collection through the real ``stripe`` SDK, endpoint and key from settings.

Classification of an off-session charge:

* ``CardError``                                   → declined (the bank said no)
* ``RateLimitError``                              → RETRIABLE (refused before charging)
* ``APIConnectionError``, ``APIError`` (5xx)      → UNKNOWN — safe to retry *only* because the
  same idempotency key is sent again: Stripe replays the first outcome instead of charging twice
* ``AuthenticationError``, ``PermissionError``, ``InvalidRequestError``, ``IdempotencyError``
                                                  → NOT_RETRIABLE (configuration or request bug)
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from django.conf import settings

from apps.common.retriability import GatewayError, Retriability
from apps.common.security import safe_error


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    payment_intent_id: str
    status: str
    decline_code: str = ""
    message: str = ""


def client() -> stripe.StripeClient:
    """A client bound to ``STRIPE_API_BASE`` and ``STRIPE_SECRET_KEY`` with explicit timeouts and
    no SDK-level retries (retries are ours, with the same idempotency key)."""
    timeout = (
        float(getattr(settings, "STRIPE_CONNECT_TIMEOUT", 5)),
        float(getattr(settings, "STRIPE_READ_TIMEOUT", 30)),
    )
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def charge(
    *,
    amount_cents: int,
    currency: str,
    customer: str,
    payment_method: str,
    idempotency_key: str,
    metadata: dict[str, str],
) -> ChargeResult:
    """Create and confirm an off-session PaymentIntent; raise :class:`GatewayError` on errors."""
    params = {
        "amount": amount_cents,
        "currency": currency,
        "confirm": True,
        "off_session": True,
        "metadata": metadata,
    }
    if customer:
        params["customer"] = customer
    if payment_method:
        params["payment_method"] = payment_method
    try:
        intent = client().v1.payment_intents.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    except stripe.CardError as exc:
        error = (exc.json_body or {}).get("error") or {}
        intent = error.get("payment_intent") or {}
        return ChargeResult(
            succeeded=False,
            payment_intent_id=str(intent.get("id", "")),
            status="declined",
            decline_code=str(error.get("decline_code") or exc.code or "card_declined"),
            message=safe_error(exc.user_message or str(exc)),
        )
    except stripe.RateLimitError as exc:
        raise GatewayError(_message(exc), Retriability.RETRIABLE, exc.http_status) from None
    except (stripe.APIConnectionError, stripe.APIError) as exc:
        raise GatewayError(_message(exc), Retriability.UNKNOWN, exc.http_status) from None
    except stripe.StripeError as exc:
        raise GatewayError(_message(exc), Retriability.NOT_RETRIABLE, exc.http_status) from None
    data = intent.to_dict()
    status = str(data.get("status", ""))
    if status == "succeeded":
        return ChargeResult(True, str(data["id"]), status)
    if status == "processing":
        return ChargeResult(False, str(data["id"]), status)
    return ChargeResult(False, str(data["id"]), "declined", decline_code=status, message=status)


def _message(exc: stripe.StripeError) -> str:
    return safe_error(f"{type(exc).__name__}: {exc.user_message or exc}")
