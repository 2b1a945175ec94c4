"""Reusable Hypothesis strategies: external-service outcomes, fault plans, load, schedules.

Why a module of its own: property tests of *any* Django-Q2 project need the same raw material —
what Virtualmin, Stripe or a registrar can answer (including the ugly cases: failure envelopes
with HTTP 200, noisy error texts, transport exceptions before and after the request was sent),
fault plans in the :mod:`fakes.faults` format, arrival patterns and schedule rows. Everything
here is data; nothing imports the platform (``apps``).

    from hypothesis import given
    from harness.search.strategies import fault_plans, virtualmin_outcomes

    @given(virtualmin_outcomes())
    def test_gateway(outcome): ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import requests
from hypothesis import strategies as st

from harness.fakes.faults import OUTAGE_KINDS
from harness.fakes.operations import OPERATIONS

# -- error texts ------------------------------------------------------------------------------

#: Real answers that mean "the remote refused; asking again gives the same answer".
PERMANENT_PHRASES: tuple[str, ...] = (
    "Virtual server {domain} already exists",
    "Virtual server {domain} does not exist",
    "Invalid domain name : {domain}",
    "Login failed : Invalid username or password",
    "Missing required parameter : domain (program create-domain)",
    "Unknown program {word}",
    "Domain {domain} not found",
    "permission denied",
)
#: Real answers that mean "refused for now, nothing was done".
TRANSIENT_PHRASES: tuple[str, ...] = (
    "Too many requests, please try again later",
    "rate limit exceeded",
    "Service temporarily unavailable",
    "server busy",
)
#: Texts of transport trouble as a seed-style caller sees them (``str(exc)``).
TRANSPORT_PHRASES: tuple[str, ...] = (
    "connection timeout",
    "network error",
    "Internal Server Error",
    "server error",
    "Read timed out. (read timeout=60)",
    "Connection aborted.', RemoteDisconnected('Remote end closed connection')",
)

_NOISE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_WORDS = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)


@st.composite
def domain_names(draw: st.DrawFn, words: st.SearchStrategy[str] = _WORDS) -> str:
    """Plausible customer domains (``shop-4.ro``); labels may be any word, even "overload"."""
    labels = draw(st.lists(words, min_size=1, max_size=2))
    tld = draw(st.sampled_from(["ro", "com", "eu", "net", "org"]))
    return ".".join([*labels, tld])


def _case(text: str, how: str) -> str:
    return {"upper": text.upper(), "title": text.title(), "swap": text.swapcase()}.get(how, text)


@st.composite
def noisy(draw: st.DrawFn, phrases: st.SearchStrategy[str]) -> str:
    """A phrase with a domain/word filled in, random case, and unicode noise on either side."""
    template = draw(phrases)
    text = template.format(domain=draw(domain_names()), word=draw(_WORDS))
    text = _case(text, draw(st.sampled_from(["keep", "upper", "title", "swap"])))
    return draw(_NOISE) + draw(st.sampled_from(["", " ", ": ", "\n"])) + text + draw(_NOISE)


def error_texts(kind: str | None = None) -> st.SearchStrategy[str]:
    """Error messages: ``kind`` = "permanent" | "transient" | "transport" | None (any, or noise)."""
    pools = {
        "permanent": PERMANENT_PHRASES,
        "transient": TRANSIENT_PHRASES,
        "transport": TRANSPORT_PHRASES,
    }
    if kind is not None:
        return noisy(st.sampled_from(pools[kind]))
    every = PERMANENT_PHRASES + TRANSIENT_PHRASES + TRANSPORT_PHRASES
    return st.one_of(noisy(st.sampled_from(every)), st.text(max_size=40))


# -- HTTP outcomes ----------------------------------------------------------------------------

#: Transport exceptions a ``requests`` caller can get, and whether the request had been sent.
TRANSPORT_EXCEPTIONS: tuple[tuple[type[requests.RequestException], bool], ...] = (
    (requests.exceptions.ConnectTimeout, False),
    (requests.exceptions.ReadTimeout, True),
    (requests.exceptions.ConnectionError, True),
    (requests.exceptions.SSLError, False),
    (requests.exceptions.ChunkedEncodingError, True),
)

PERMANENT_STATUSES = (400, 401, 403, 404, 409, 422)


@dataclass(frozen=True)
class HttpOutcome:
    """One answer of a remote as a client sees it: a response, or an exception instead.

    ``sent`` says whether the remote may have received (and acted on) the request: False only
    for failures before the first byte left (connect timeout, TLS handshake).
    """

    service: str
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    exception: type[requests.RequestException] | None = None
    sent: bool = True

    @property
    def is_success(self) -> bool:
        return self.exception is None and self.status is not None and 200 <= self.status < 300

    def callback(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        """A ``responses.add_callback`` callback producing this outcome."""
        if self.exception is not None:
            raise self.exception(f"simulated {self.exception.__name__}", request=request)
        body = self.body if isinstance(self.body, str) else json.dumps(self.body)
        headers = {"Content-Type": "application/json", **self.headers}
        return int(self.status or 200), headers, body

    def describe(self) -> str:
        if self.exception is not None:
            return f"{self.service}: {self.exception.__name__}"
        return f"{self.service}: HTTP {self.status} {json.dumps(self.body)[:120]}"


def transport_failures(service: str) -> st.SearchStrategy[HttpOutcome]:
    return st.sampled_from(TRANSPORT_EXCEPTIONS).map(
        lambda pair: HttpOutcome(service, exception=pair[0], sent=pair[1])
    )


def http_statuses(*classes: int) -> st.SearchStrategy[int]:
    """Statuses from the given hundreds (``http_statuses(4, 5)``); all of 100–599 by default."""
    ranges = classes or (1, 2, 3, 4, 5)
    return st.one_of(*(st.integers(c * 100, c * 100 + 99) for c in ranges))


def virtualmin_failure_envelopes(
    texts: st.SearchStrategy[str] | None = None,
    codes: st.SearchStrategy[int | None] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """``{"command", "status": "failure", "error"[, "error_code"]}`` as Virtualmin sends it."""
    texts = texts if texts is not None else error_texts()
    codes = codes if codes is not None else st.none() | http_statuses(4, 5)

    def build(program: str, status: str, error: str, code: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"command": program, "status": status, "error": error}
        if code is not None:
            body["error_code"] = code
        return body

    return st.builds(
        build,
        st.sampled_from(sorted(OPERATIONS["virtualmin"])),
        st.sampled_from(["failure", "FAILURE", "error", "failed"]),
        texts,
        codes,
    )


def virtualmin_outcomes() -> st.SearchStrategy[HttpOutcome]:
    """Success envelopes, failure envelopes (HTTP 200), HTTP errors and transport failures."""
    success = st.builds(
        lambda program: HttpOutcome(
            "virtualmin", 200, {"command": program, "status": "success", "output": "ok"}
        ),
        st.sampled_from(sorted(OPERATIONS["virtualmin"])),
    )
    failure = virtualmin_failure_envelopes().map(lambda b: HttpOutcome("virtualmin", 200, b))
    http_error = st.builds(
        lambda status, text: HttpOutcome(
            "virtualmin", status, {"status": "failure", "error": text}
        ),
        http_statuses(4, 5),
        error_texts(),
    )
    return st.one_of(success, failure, http_error, transport_failures("virtualmin"))


def registrar_outcomes() -> st.SearchStrategy[HttpOutcome]:
    """Gandi-v5 answers: 200/202 bodies, ``{"code", "message", "cause"}`` errors, 429, transport."""
    success = st.builds(
        lambda status, fqdn: HttpOutcome(
            "registrar",
            status,
            {"message": "Confirmation", "fqdn": fqdn, "expires_at": "2027-03-01T00:00:00Z"},
        ),
        st.sampled_from([200, 201, 202]),
        domain_names(),
    )
    error = st.builds(
        lambda status, text, retry_after: HttpOutcome(
            "registrar",
            status,
            {"code": status, "message": text, "object": "HTTPError", "cause": text},
            {"Retry-After": str(retry_after)} if status == 429 else {},
        ),
        http_statuses(4, 5),
        error_texts(),
        st.integers(0, 3600),
    )
    return st.one_of(success, error, transport_failures("registrar"))


_STRIPE_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    402: "card_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    409: "idempotency_error",
    429: "rate_limit_error",
}


def stripe_outcomes() -> st.SearchStrategy[HttpOutcome]:
    """Answers to ``POST /v1/payment_intents``: succeeded, declines, API errors, transport."""

    def intent(status: str) -> dict[str, Any]:
        return {"id": "pi_prop", "object": "payment_intent", "status": status, "amount": 1000}

    success = st.sampled_from(["succeeded", "processing", "requires_action"]).map(
        lambda s: HttpOutcome("stripe", 200, intent(s))
    )

    def error(status: int, text: str, decline: str) -> HttpOutcome:
        etype = _STRIPE_ERROR_TYPES.get(status, "api_error")
        err: dict[str, Any] = {"type": etype, "message": text}
        if etype == "card_error":
            err |= {
                "code": "card_declined",
                "decline_code": decline,
                "payment_intent": intent("requires_payment_method"),
            }
        headers = {"Stripe-Should-Retry": "true"} if status >= 500 else {}
        return HttpOutcome("stripe", status, {"error": err}, headers)

    errors = st.builds(
        error,
        st.sampled_from(sorted(_STRIPE_ERROR_TYPES)) | http_statuses(5),
        error_texts(),
        st.sampled_from(["generic_decline", "insufficient_funds", "expired_card"]),
    )
    return st.one_of(success, errors, transport_failures("stripe"))


# -- fault plans (fakes.faults format) ---------------------------------------------------------


def _duration(seconds: int) -> str:
    return f"{seconds}s"


@st.composite
def fault_rules(
    draw: st.DrawFn,
    fakes: tuple[str, ...] = ("virtualmin", "payments", "registrar"),
    operations: dict[str, tuple[str, ...]] | None = None,
    horizon: timedelta = timedelta(hours=6),
    business_keys: tuple[str, ...] = (),
    types: tuple[str, ...] = ("latency", "error", "outage", "rate_limit", "lost_response"),
    bounded: bool = False,
) -> dict[str, Any]:
    """One rule dict; every optional key may be absent (Hypothesis shrinks towards fewer keys).

    ``operations`` restricts the operation names per fake (default: all the fake knows).
    ``bounded`` always sets ``max_count`` (1–5), so a shrunk plan also fires few faults. Types
    are listed mildest first: Hypothesis shrinks towards the front.
    """
    rule: dict[str, Any] = {"type": draw(st.sampled_from(types))}
    fake = draw(st.sampled_from(fakes))
    rule["fake"] = fake
    ops = (operations or {}).get(fake) or tuple(sorted(OPERATIONS[fake]))
    if draw(st.booleans()):
        rule["operation"] = draw(st.sampled_from(ops))
    if business_keys and draw(st.booleans()):
        rule["business_key"] = draw(st.sampled_from(business_keys))
    limit = int(horizon.total_seconds())
    if draw(st.booleans()):
        start = draw(st.integers(0, max(limit - 1, 0)))
        rule["start"] = _duration(start)
        if draw(st.booleans()):
            rule["end"] = _duration(draw(st.integers(start + 1, limit)))
    if bounded or draw(st.booleans()):
        rule["max_count"] = draw(st.integers(1, 5))
    if draw(st.booleans()):
        rule["probability"] = draw(st.sampled_from([0.1, 0.25, 0.5, 0.75]))
    kind = rule["type"]
    if kind == "outage":
        rule["mode"] = draw(st.sampled_from(OUTAGE_KINDS))
    elif kind == "error":
        rule["status"] = draw(st.sampled_from([500, 502, 503, 504, 400, 404, 409, 200]))
    elif kind == "rate_limit":
        rule["retry_after"] = draw(st.integers(0, 120))
    elif kind == "latency":
        rule["ms"] = draw(st.integers(0, 30_000))
    return rule


def fault_plans(
    min_rules: int = 0, max_rules: int = 4, **rule_options: Any
) -> st.SearchStrategy[dict[str, Any]]:
    """``{"rules": [...]}`` dicts that :meth:`fakes.faults.FaultPlan.from_dict` accepts."""
    return st.lists(fault_rules(**rule_options), min_size=min_rules, max_size=max_rules).map(
        lambda rules: {"rules": rules}
    )


# -- load shapes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadShape:
    """How many arrivals and when: ``constant`` (evenly), ``burst`` (all within ``spread``) or
    ``ramp`` (gaps shrinking linearly), over ``horizon``."""

    kind: str
    count: int
    horizon: timedelta
    spread: timedelta = timedelta(0)

    def offsets(self) -> list[timedelta]:
        """Arrival instants relative to the start, sorted, all within the horizon."""
        if self.count == 0:
            return []
        if self.kind == "burst":
            step = self.spread / self.count
            return [step * i for i in range(self.count)]
        if self.kind == "ramp":
            total = self.count * (self.count + 1) / 2
            acc, out = 0.0, []
            for i in range(self.count):
                out.append(self.horizon * (acc / total))
                acc += self.count - i
            return out
        step = self.horizon / self.count
        return [step * i for i in range(self.count)]


def load_shapes(max_count: int = 50, max_horizon_hours: int = 48) -> st.SearchStrategy[LoadShape]:
    horizon = st.integers(1, max_horizon_hours * 3600).map(lambda s: timedelta(seconds=s))

    def build(kind: str, count: int, h: timedelta, frac: float) -> LoadShape:
        return LoadShape(kind, count, h, h * frac if kind == "burst" else timedelta(0))

    return st.builds(
        build,
        st.sampled_from(["constant", "burst", "ramp"]),
        st.integers(0, max_count),
        horizon,
        st.floats(0, 1, allow_nan=False),
    )


# -- schedule sets ----------------------------------------------------------------------------

_CRON_FIELDS = (
    st.sampled_from(["*", "0", "15", "*/5", "0,30"]),
    st.sampled_from(["*", "0", "2", "*/6", "9-17"]),
    st.sampled_from(["*", "1", "15", "28"]),
    st.sampled_from(["*", "1", "*/3"]),
    st.sampled_from(["*", "1-5", "0", "6"]),
)


def cron_expressions() -> st.SearchStrategy[str]:
    """Five-field cron expressions croniter accepts."""
    return st.tuples(*_CRON_FIELDS).map(" ".join)


@st.composite
def schedule_specs(draw: st.DrawFn, funcs: tuple[str, ...] = ("math.copysign",)) -> dict[str, Any]:
    """Keyword arguments for ``django_q.models.Schedule`` (without ``name``/``next_run``)."""
    stype = draw(st.sampled_from(["O", "I", "H", "D", "W", "M", "Q", "Y", "C"]))
    spec: dict[str, Any] = {
        "func": draw(st.sampled_from(funcs)),
        "schedule_type": stype,
        "repeats": draw(st.sampled_from([-1, 1, 3])),
    }
    if stype == "I":
        spec["minutes"] = draw(st.integers(1, 24 * 60))
    if stype == "C":
        spec["cron"] = draw(cron_expressions())
    return spec


def schedule_sets(
    max_size: int = 6, funcs: tuple[str, ...] = ("math.copysign",)
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Lists of schedule rows: unique names, ``next_run_offset`` (a timedelta from the start)."""

    def name_all(specs: list[dict[str, Any]], offsets: list[int]) -> list[dict[str, Any]]:
        return [
            {**spec, "name": f"prop-{i}", "next_run_offset": timedelta(seconds=off)}
            for i, (spec, off) in enumerate(zip(specs, offsets, strict=False))
        ]

    return st.lists(schedule_specs(funcs), max_size=max_size).flatmap(
        lambda specs: st.lists(
            st.integers(0, 7 * 24 * 3600), min_size=len(specs), max_size=len(specs)
        ).map(lambda offs: name_all(specs, offs))
    )
