"""The fakes against hostile or borderline HTTP: each case is a row — the request, the status and
the error the service itself would answer — run over a real socket (werkzeug) and in-process
(``responses``). A new case is a row, not code.

Bodies come with a ``Content-Length`` or streamed (``Transfer-Encoding: chunked``, no length, as
``requests`` sends a generator): both must meet the same body limit (413 above it), and a
streamed body within it must reach the fake whole. Stripe's amount bounds are also reached
through the real ``stripe`` SDK (:func:`test_amount_bounds_through_the_stripe_sdk`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import stripe

from harness.fakes import FakePayments, FakeRegistrar, FakeVirtualmin
from harness.fakes.base import DEFAULT_MAX_BODY_BYTES as LIMIT
from harness.fakes.ledger import Ledger
from harness.fakes.payments import DEFAULT_SECRET_KEY
from harness.fakes.registrar import DEFAULT_TOKEN
from tests.fakes.support import Clock, reach

PAYMENTS_AUTH = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
FAKES = {
    "payments": (FakePayments, "https://api.stripe.fake", PAYMENTS_AUTH),
    "virtualmin": (FakeVirtualmin, "https://vm1.example.test:10000", {}),
    "registrar": (
        FakeRegistrar,
        "https://api.gandi.fake",
        {"Authorization": f"Bearer {DEFAULT_TOKEN}"},
    ),
}


@dataclass(frozen=True)
class Case:
    """One POST and what the fake answers: ``size`` pads the form body to exactly that many
    bytes; ``chunked`` streams it with no length; ``expect`` maps dotted paths of the JSON
    answer (``error.code``) to their values."""

    id: str
    fake: str
    path: str
    form: dict[str, str] = field(default_factory=dict)
    size: int = 0
    chunked: bool = False
    status: int = 200
    expect: dict[str, Any] = field(default_factory=dict)


def charge(id: str, amount: int, currency: str, status: int, expect: dict[str, Any]) -> Case:
    """A PaymentIntent of ``amount`` (in the smallest unit) in ``currency``."""
    form = {"amount": str(amount), "currency": currency}
    return Case(id, "payments", "/v1/payment_intents", form, status=status, expect=expect)


def refused(code: str, message: str | None = None) -> dict[str, Any]:
    """Stripe's answer to an amount out of bounds."""
    expect = {"error.code": code, "error.param": "amount", "error.type": "invalid_request_error"}
    return {**expect, "error.message": message} if message else expect


CUS, VM, REG = "/v1/customers", "/virtual-server/remote.cgi", "/v5/domain/domains"
ANA = {"email": "ana@example.ro"}
BIG = {
    "error.type": "invalid_request_error",
    "error.message": f"Request body larger than {LIMIT} bytes",
}
SMALL, LARGE = "amount_too_small", "amount_too_large"
CASES = [
    # -- the body limit, with and without a length (413 above it; within it, read whole) --------
    Case("length-over-limit", "payments", CUS, size=2 * LIMIT, status=413, expect=BIG),
    Case(
        "chunked-over-limit", "payments", CUS, size=2 * LIMIT, chunked=True, status=413, expect=BIG
    ),
    Case(
        "chunked-one-byte-over",
        "payments",
        CUS,
        size=LIMIT + 1,
        chunked=True,
        status=413,
        expect=BIG,
    ),
    Case("chunked-at-the-limit", "payments", CUS, ANA, size=LIMIT, chunked=True, expect=ANA),
    Case("chunked-small-read-whole", "payments", CUS, ANA, chunked=True, expect=ANA),
    Case(
        "vm-chunked-over",
        "virtualmin",
        VM,
        size=2 * LIMIT,
        chunked=True,
        status=413,
        expect={"status": "failure"},
    ),
    Case(
        "gandi-chunked-over",
        "registrar",
        REG,
        size=2 * LIMIT,
        chunked=True,
        status=413,
        expect={"code": 413},
    ),
    # -- Stripe's amount bounds: the currency's minimum charge, eight digits at most ------------
    charge("usd-below-minimum", 49, "usd", 400, refused(SMALL, "Amount must be at least 0.50 usd")),
    charge("usd-at-minimum", 50, "usd", 200, {"amount": 50, "status": "requires_payment_method"}),
    charge(
        "ron-below-minimum", 199, "ron", 400, refused(SMALL, "Amount must be at least 2.00 ron")
    ),
    charge("ron-at-minimum", 200, "ron", 200, {"amount": 200, "currency": "ron"}),
    charge("jpy-zero-decimal", 49, "jpy", 400, refused(SMALL, "Amount must be at least 50 jpy")),
    charge("usd-at-maximum", 99_999_999, "usd", 200, {"amount": 99_999_999}),
    charge(
        "usd-above-maximum",
        100_000_000,
        "usd",
        400,
        refused(LARGE, "Amount must be no more than 999,999.99 usd"),
    ),
    charge("isk-above-maximum", 100_000_000, "isk", 400, refused(LARGE)),
]


def _body(case: Case) -> bytes:
    body = urlencode(case.form)
    if case.size:
        pad = case.size - len(body) - len("&pad=" if body else "pad=")
        body = f"{body}&pad={'x' * pad}" if body else f"pad={'x' * pad}"
        assert len(body) == case.size
    return body.encode()


def _stream(data: bytes) -> Iterator[bytes]:
    """A generator body: ``requests`` sends it chunked, with no ``Content-Length``."""
    for start in range(0, len(data), 64 * 1024):
        yield data[start : start + 64 * 1024]


def _at(answer: Any, path: str) -> Any:
    for key in path.split("."):
        answer = answer[key]
    return answer


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_adversarial_request(case: Case, transport: str) -> None:
    cls, base_url, headers = FAKES[case.fake]
    clock = Clock()
    fake = cls(Ledger(clock), clock)
    body = _body(case)
    headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    with reach(transport, fake, base_url) as base:
        resp = requests.post(
            base + case.path,
            data=_stream(body) if case.chunked else body,
            headers=headers,
            timeout=30,
        )
    assert resp.status_code == case.status, resp.text[:300]
    answer = resp.json()
    assert {path: _at(answer, path) for path in case.expect} == case.expect


AMOUNTS = [
    # (amount, currency, Stripe's error code or None when the PaymentIntent is created)
    (49, "usd", "amount_too_small"),
    (50, "usd", None),
    (29, "gbp", "amount_too_small"),
    (199, "ron", "amount_too_small"),
    (4999, "ron", None),
    (99_999_999, "eur", None),
    (100_000_000, "eur", "amount_too_large"),
]


@pytest.mark.parametrize("amount,currency,code", AMOUNTS)
def test_amount_bounds_through_the_stripe_sdk(amount: int, currency: str, code: str | None) -> None:
    """What a Stripe client sees: ``stripe.InvalidRequestError`` with Stripe's code, over HTTP."""
    clock = Clock()
    fake = FakePayments(Ledger(clock), clock)
    params = {"amount": amount, "currency": currency, "payment_method": "pm_card_visa"}
    with reach("werkzeug", fake) as base:
        client = stripe.StripeClient(
            DEFAULT_SECRET_KEY, base_addresses={"api": base}, max_network_retries=0
        )
        if code is None:
            intent = client.v1.payment_intents.create(params={**params, "confirm": True})
            assert (intent.amount, intent.status) == (amount, "succeeded")
            return
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.payment_intents.create(params={**params, "confirm": True})
    error = info.value
    assert (error.http_status, error.code, error.param) == (400, code, "amount")
    assert error.error.type == "invalid_request_error"
    assert fake.state.payment_intents == {} and fake.state.charges == {}
