"""Properties of the platform's retry classification (``apps.common.retriability`` and the three
gateways), driven by :mod:`harness.search.strategies`.

The gateway properties send each generated outcome through the real gateway code (``requests``
or the ``stripe`` SDK) with ``responses`` answering, so what is checked is the classification a
task actually sees.
"""

from __future__ import annotations

import re
import string

import pytest
import requests
import responses
from django.conf import settings as django_settings
from hypothesis import example, given
from hypothesis import strategies as st

from apps.billing import gateway as stripe_gateway
from apps.common.retriability import (
    RETRYABLE_PATTERNS,
    GatewayError,
    Retriability,
    _is_retryable_error,
    classify_error_text,
    classify_http_status,
    classify_transport_error,
)
from apps.domains.gateway import RegistrarGateway
from apps.provisioning.gateway import MUTATING_PROGRAMS, READ_ONLY_PROGRAMS, VirtualminGateway
from apps.provisioning.models import VirtualminServer
from harness.search.strategies import (
    PERMANENT_STATUSES,
    TRANSPORT_EXCEPTIONS,
    HttpOutcome,
    domain_names,
    error_texts,
    http_statuses,
    registrar_outcomes,
    stripe_outcomes,
    transport_failures,
    virtualmin_failure_envelopes,
    virtualmin_outcomes,
)

R = Retriability
ASCII = st.text(alphabet=string.printable, max_size=60)
PERMANENT_WORDS = ("already exists", "does not exist")
RETRIABLE_VOCABULARY = (*RETRYABLE_PATTERNS, "too many requests", "server busy", "try again")


# -- helpers: one outcome through one real gateway --------------------------------------------


def _server() -> VirtualminServer:
    return VirtualminServer(
        name="prop", hostname="vm.prop.test", api_port=10000, scheme="https",
        username="admin", password="prop-secret",
    )  # fmt: skip


def virtualmin_call(outcome: HttpOutcome, program: str) -> Retriability | None:
    """None when the call succeeded, else the GatewayError's retriability."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, re.compile(r"https://vm\.prop\.test.*"), outcome.callback)
        try:
            VirtualminGateway(_server()).call(program, domain="prop.ro")
        except GatewayError as exc:
            return exc.retriability
    return None


def registrar_call(outcome: HttpOutcome, mutating: bool) -> Retriability | None:
    base = re.escape(django_settings.REGISTRAR_API_BASE.rstrip("/"))
    method = responses.POST if mutating else responses.GET
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(method, re.compile(base + r"/domain/domains/.*"), outcome.callback)
        gw = RegistrarGateway()
        try:
            gw.renew("prop.ro", 1) if mutating else gw.expiry("prop.ro")
        except GatewayError as exc:
            return exc.retriability
    return None


def stripe_charge(outcome: HttpOutcome) -> Retriability | str:
    """The retriability of a failed charge, or the ChargeResult status ("succeeded", ...)."""
    base = re.escape(django_settings.STRIPE_API_BASE.rstrip("/"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(
            responses.POST, re.compile(base + r"/v1/payment_intents"), outcome.callback
        )
        try:
            result = stripe_gateway.charge(
                amount_cents=1000, currency="eur", customer="cus_prop",
                payment_method="pm_card_visa", idempotency_key="invoice:1:attempt:1",
                metadata={"invoice_id": "1"},
            )  # fmt: skip
        except GatewayError as exc:
            return exc.retriability
    return result.status


# -- the text classifier ----------------------------------------------------------------------


@given(st.text(max_size=200) | error_texts())
def test_text_classification_is_total_and_deterministic(text):
    first = classify_error_text(text)
    assert first in set(R)
    assert classify_error_text(text) == first
    assert classify_error_text(str(text)) == first


@given(ASCII)
def test_text_classification_ignores_ascii_case(text):
    assert classify_error_text(text.upper()) == classify_error_text(text.lower())
    assert _is_retryable_error(text.upper()) == _is_retryable_error(text.lower())


@given(error_texts())
def test_where_the_seed_retries_the_classifier_agrees_it_is_transient(text):
    """Overlap: whatever the seed's ``_is_retryable_error`` retries, the classifier never calls
    permanent — unless the text also carries a permanent verdict ("already exists", which wins).
    Disagreement 2, by design: the seed retries "server error", "connection timeout" and "network
    error" blindly; the classifier calls them UNKNOWN (something broke while the remote was
    working, so a mutation may have been applied) and keeps RETRIABLE for refusals."""
    if _is_retryable_error(text) and classify_error_text(text) == R.NOT_RETRIABLE:
        assert re.search(
            r"already exists|does not exist|not found|invalid|quota exceeded|"
            r"login failed|permission denied|not allowed",
            text.lower(),
        )


@given(error_texts("transient"))
def test_where_they_disagree_the_classifier_knows_more_transient_phrasings(text):
    """Disagreement 1, by design: the classifier recognises transient refusals the seed's five
    patterns miss — Virtualmin's own 429 text "Too many requests, please try again later" and
    "server busy". The seed returns False for them, which would fail a job that only had to wait.
    """
    assert classify_error_text(text) == R.RETRIABLE
    if not _is_retryable_error(text):
        assert any(p in text.lower() for p in ("too many requests", "try again", "server busy"))


@pytest.mark.parametrize("message", ["Internal Server Error", "server error", "network error"])
def test_where_they_disagree_a_mutation_with_an_unknown_outcome_is_not_resent(message):
    """Disagreement 2, by design: the seed decides from the text alone, so an HTTP 500 "Internal
    Server Error" on create-domain is "retryable" — and a blind resend may create the account
    twice. The classifier looks at *how* it failed: a 5xx or a dropped connection after sending
    is UNKNOWN (reconcile first), never RETRIABLE."""
    assert _is_retryable_error(message) is True
    outcome = HttpOutcome("virtualmin", 500, {"status": "failure", "error": message})
    assert virtualmin_call(outcome, "create-domain") == R.UNKNOWN
    assert classify_transport_error(requests.exceptions.ConnectionError(message)) == R.UNKNOWN


def _without_retriable_vocabulary(text: str) -> bool:
    return not any(p in text.lower() for p in (*RETRIABLE_VOCABULARY, "overload"))


@given(error_texts("permanent").filter(_without_retriable_vocabulary))
def test_permanent_answers_are_never_retriable(text):
    assert classify_error_text(text) != R.RETRIABLE
    if any(w in text.lower() for w in PERMANENT_WORDS):
        assert classify_error_text(text) == R.NOT_RETRIABLE


@given(domain_names(), st.sampled_from(["already exists", "does not exist"]))
@example(domain="overload.ro", verdict="already exists")
def test_already_exists_and_does_not_exist_are_never_retriable_whatever_the_domain(domain, verdict):
    envelope = {"command": "create-domain", "status": "failure"}
    envelope["error"] = f"Virtual server {domain} {verdict}"
    assert virtualmin_call(HttpOutcome("virtualmin", 200, envelope), "create-domain") != (
        R.RETRIABLE
    )


@given(
    st.sampled_from(sorted(MUTATING_PROGRAMS)),
    st.sampled_from([{"error_code": 500}, {"error_code": 503}, {}]),
    st.sampled_from(["Failed : internal server error after creating Unix user", "MySQL error"]),
)
@example(program="create-domain", code={"error_code": 500}, text="MySQL error")
def test_a_server_side_failure_of_a_mutation_is_never_retriable_in_an_envelope(program, code, text):
    envelope = {"command": program, "status": "failure", "error": text, **code}
    verdict = virtualmin_call(HttpOutcome("virtualmin", 200, envelope), program)
    http = virtualmin_call(HttpOutcome("virtualmin", 500, {"error": text}), program)
    assert http == R.UNKNOWN
    assert verdict != R.RETRIABLE


# -- HTTP statuses ----------------------------------------------------------------------------


@given(http_statuses())
def test_status_classification_is_total_and_a_2xx_is_never_retriable(status):
    verdict = classify_http_status(status)
    assert verdict in set(R)
    if 200 <= status < 300:
        assert verdict != R.RETRIABLE
    if status == 429:
        assert verdict == R.RETRIABLE
    elif 400 <= status < 500:
        assert verdict == R.NOT_RETRIABLE
    elif status >= 500:
        assert verdict == R.UNKNOWN


@given(
    st.sampled_from(PERMANENT_STATUSES), error_texts(), st.sampled_from(sorted(MUTATING_PROGRAMS))
)
def test_permanent_statuses_are_not_retriable_on_every_gateway(status, text, program):
    body = {"status": "failure", "error": text, "code": status, "message": text}
    outcome = HttpOutcome("any", status, body)
    assert virtualmin_call(outcome, program) == R.NOT_RETRIABLE
    assert registrar_call(outcome, mutating=True) == R.NOT_RETRIABLE
    assert registrar_call(outcome, mutating=False) == R.NOT_RETRIABLE


@given(
    virtualmin_failure_envelopes(codes=st.sampled_from(PERMANENT_STATUSES)),
    st.sampled_from(sorted(MUTATING_PROGRAMS | READ_ONLY_PROGRAMS)),
)
def test_failure_envelopes_with_a_permanent_code_are_not_retriable(envelope, program):
    assert virtualmin_call(HttpOutcome("virtualmin", 200, envelope), program) == R.NOT_RETRIABLE


@given(st.sampled_from(PERMANENT_STATUSES), error_texts())
def test_stripe_request_errors_are_never_retriable(status, text):
    """400/401/403/404 are NOT_RETRIABLE. 409 and 422 reach the SDK as a generic ``APIError``
    (UNKNOWN): for Stripe a 409 means another request with the same key is still running, so
    "may have been applied" is right there — and the retry resends the *same* key."""
    err_type = "idempotency_error" if status == 409 else "invalid_request_error"
    outcome = HttpOutcome("stripe", status, {"error": {"type": err_type, "message": text}})
    verdict = stripe_charge(outcome)
    assert verdict != R.RETRIABLE
    if status in (400, 401, 403, 404):
        assert verdict == R.NOT_RETRIABLE


# -- successes and transport failures ----------------------------------------------------------


@given(virtualmin_outcomes(), st.sampled_from(sorted(MUTATING_PROGRAMS | READ_ONLY_PROGRAMS)))
def test_virtualmin_success_is_never_an_error_and_classification_is_total(outcome, program):
    first = virtualmin_call(outcome, program)
    assert first == virtualmin_call(outcome, program)  # deterministic
    if outcome.is_success and outcome.body.get("status") == "success":
        assert first is None
    else:
        assert first in set(R)


@given(registrar_outcomes(), st.booleans())
def test_registrar_success_is_never_retried_and_classification_is_total(outcome, mutating):
    first = registrar_call(outcome, mutating)
    assert first == registrar_call(outcome, mutating)
    if outcome.is_success:
        assert first is None
    else:
        assert first in set(R)


@given(stripe_outcomes())
def test_stripe_charge_classification_is_total_and_success_is_not_retried(outcome):
    first = stripe_charge(outcome)
    assert first == stripe_charge(outcome)
    if outcome.is_success and outcome.body["status"] == "succeeded":
        assert first == "succeeded"
    if outcome.status == 402:
        assert first == "declined"  # the bank said no: the decline policy, not a resend
    if outcome.status == 429:
        assert first == R.RETRIABLE


@given(transport_failures("any"), st.sampled_from(sorted(MUTATING_PROGRAMS)))
def test_a_failure_after_sending_is_never_retriable_for_a_mutation(outcome, program):
    """A read timeout or a dropped connection after the request left: the mutation may have
    happened, so no gateway may call it RETRIABLE (reconcile first, or resend the same key)."""
    vm = virtualmin_call(outcome, program)
    renew = registrar_call(outcome, mutating=True)
    charge = stripe_charge(outcome)
    if outcome.sent:
        assert R.RETRIABLE not in (vm, renew, charge)
        assert charge == R.UNKNOWN  # the same idempotency key is resent, never a new one
    if outcome.exception is requests.exceptions.ConnectTimeout:
        assert vm == renew == R.RETRIABLE  # nothing left the machine: safe to resend


@given(transport_failures("any"), st.sampled_from(sorted(READ_ONLY_PROGRAMS)))
def test_reads_are_idempotent_so_unknown_becomes_retriable(outcome, program):
    vm = virtualmin_call(outcome, program)
    assert vm != R.UNKNOWN
    assert registrar_call(outcome, mutating=False) == R.RETRIABLE


def test_every_transport_exception_has_a_verdict():
    for exc_type, _sent in TRANSPORT_EXCEPTIONS:
        assert classify_transport_error(exc_type("x")) in set(R)
