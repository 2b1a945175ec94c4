"""A stateful fake of a Gandi-v5-style domain registrar API.

Endpoints (optionally under ``/v5``): ``GET /domain/check?name=``, ``POST /domain/domains``
(register), ``POST /domain/domains/{fqdn}/renew`` with ``{"duration": n}``, and
``GET /domain/domains/{fqdn}``. Bearer auth. Register and renew are chargeable effects and, as at
Gandi, carry no idempotency key: a renewal whose response was lost and which is then retried
extends the domain (and charges) twice, which is exactly what the harness must catch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request

from harness.fakes.base import Attribution, Call, FakeApp, Reply
from harness.fakes.faults import FaultInjector
from harness.fakes.ledger import Ledger
from harness.fakes.operations import REGISTRAR

DEFAULT_TOKEN = "pat_dqharness"
MAX_YEARS = 10
DEFAULT_PRICES = {"com": 1500, "net": 1700, "org": 1600, "ro": 4500, "eu": 900}

_FQDN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
_CAUSES = {
    400: ("HTTPBadRequest", "Bad Request"),
    401: ("HTTPUnauthorized", "Unauthorized"),
    403: ("HTTPForbidden", "Forbidden"),
    404: ("HTTPNotFound", "Not Found"),
    405: ("HTTPMethodNotAllowed", "Method Not Allowed"),
    409: ("HTTPConflict", "Conflict"),
    413: ("HTTPRequestEntityTooLarge", "Request Entity Too Large"),
    422: ("HTTPUnprocessableEntity", "Unprocessable Entity"),
    429: ("HTTPTooManyRequests", "Too Many Requests"),
    500: ("HTTPInternalServerError", "Internal Server Error"),
    503: ("HTTPServiceUnavailable", "Service Unavailable"),
}


@dataclass
class RegisteredDomain:
    """A domain held in this registrar account."""

    fqdn: str
    created_at: datetime
    expires_at: datetime
    owner: dict[str, Any] = field(default_factory=dict)
    renewals: int = 0


@dataclass
class Charge:
    """Money the registrar took for one register/renew (cents, account currency)."""

    fqdn: str
    operation: str
    years: int
    amount: int
    at: datetime


def _add_years(when: datetime, years: int) -> datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February
        return when.replace(year=when.year + years, day=28)


class _GandiError(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(str(reply.body))
        self.reply = reply


def _problem(status: int, message: str) -> Reply:
    obj, cause = _CAUSES.get(status, ("HTTPError", "Error"))
    body = {"code": status, "message": message, "object": obj, "cause": cause}
    return Reply(status, body, detail={"error": message})


def _invalid(name: str, description: str, location: str = "body") -> Reply:
    body = {
        "status": "error",
        "errors": [{"location": location, "name": name, "description": description}],
    }
    return Reply(400, body, detail={"error": f"{name}: {description}"})


class FakeRegistrar(FakeApp):
    """WSGI app for a Gandi-style registrar with domains, expiries and a charge log."""

    name = REGISTRAR

    def __init__(
        self,
        ledger: Ledger,
        now: Callable[[], datetime],
        faults: FaultInjector | None = None,
        *,
        token: str = DEFAULT_TOKEN,
        prices: dict[str, int] | None = None,
        taken: Iterable[str] = (),
        attribution: Attribution | None = None,
        max_body_bytes: int | None = None,
    ) -> None:
        super().__init__(
            ledger, now, faults, attribution=attribution, max_body_bytes=max_body_bytes
        )
        self.token = token
        self.prices = dict(DEFAULT_PRICES if prices is None else prices)
        #: Domains registered elsewhere (unavailable to us).
        self.taken = {d.lower() for d in taken}
        self.domains: dict[str, RegisteredDomain] = {}
        self.charges: list[Charge] = []

    def add_domain(
        self, fqdn: str, expires_at: datetime, created_at: datetime | None = None
    ) -> RegisteredDomain:
        """Seed a domain already held by the account (e.g. one due for renewal)."""
        domain = RegisteredDomain(fqdn.lower(), created_at or self.now(), expires_at)
        self.domains[domain.fqdn] = domain
        return domain

    # -- routing -----------------------------------------------------------------------------
    def route(self, request: Request) -> Call | Reply:
        path = request.path[3:] if request.path.startswith("/v5/") else request.path
        m = re.match(r"^/domain/domains/(?P<fqdn>[^/]+)(?P<renew>/renew)?$", path)
        if path == "/domain/check":
            operation, fqdn, method = "domain.check", request.args.get("name"), "GET"
        elif path == "/domain/domains":
            operation, fqdn, method = "domain.register", None, "POST"
        elif m and m.group("renew"):
            operation, fqdn, method = "domain.renew", m.group("fqdn"), "POST"
        elif m:
            operation, fqdn, method = "domain.info", m.group("fqdn"), "GET"
        else:
            return _problem(404, "The resource could not be found.")
        if request.method != method:
            reply = _problem(405, f"The method {request.method} is not allowed for this resource.")
            reply.headers["Allow"] = method
            reply.operation = operation
            return reply
        body: dict[str, Any] = {}
        if method == "POST":
            try:
                raw = request.get_data(cache=True)
                body = json.loads(raw or b"{}")
            except (ValueError, UnicodeDecodeError):
                return _invalid("body", "Invalid JSON body")
            if not isinstance(body, dict):
                return _invalid("body", "Expected a JSON object")
            if operation == "domain.register":
                fqdn = body.get("fqdn") if isinstance(body.get("fqdn"), str) else None
        key = fqdn.lower() if isinstance(fqdn, str) else None
        detail = {"body": {k: v for k, v in body.items() if k != "owner"}} if body else {}

        def run() -> Reply:
            if not self._authorized(request):
                return _problem(
                    401,
                    "The server could not verify that you are authorized to "
                    "access the URL requested.",
                )
            try:
                if operation == "domain.check":
                    return self._check(key)
                if operation == "domain.register":
                    return self._register(key, body)
                if operation == "domain.renew":
                    return self._renew(key or "", body)
                return self._info(key or "")
            except _GandiError as exc:
                return exc.reply

        return Call(operation, key, run, detail=detail)

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() in ("bearer", "apikey") and value.strip() == self.token

    def error_reply(self, status: int, message: str, call: Call | None) -> Reply:
        return _problem(status, message)

    # -- operations --------------------------------------------------------------------------
    def _price(self, fqdn: str) -> int:
        tld = fqdn.rsplit(".", 1)[-1]
        if tld not in self.prices:
            raise _GandiError(_invalid("name", f"The TLD .{tld} is not supported", "querystring"))
        return self.prices[tld]

    def _valid(self, fqdn: str | None, name: str, location: str) -> str:
        if not fqdn:
            raise _GandiError(_invalid(name, "Missing or empty value", location))
        if not _FQDN.match(fqdn):
            raise _GandiError(_invalid(name, f"'{fqdn}' is not a valid domain name", location))
        return fqdn

    def _duration(self, body: dict[str, Any]) -> int:
        duration = body.get("duration", 1)
        if (
            isinstance(duration, bool)
            or not isinstance(duration, int)
            or not 1 <= duration <= MAX_YEARS
        ):
            raise _GandiError(_invalid("duration", f"must be an integer between 1 and {MAX_YEARS}"))
        return duration

    def _check(self, fqdn: str | None) -> Reply:
        fqdn = self._valid(fqdn, "name", "querystring")
        price = self._price(fqdn)
        available = fqdn not in self.domains and fqdn not in self.taken
        product = {
            "name": fqdn,
            "process": "create",
            "status": "available" if available else "unavailable",
            "taxes": [{"type": "service", "rate": 0, "name": "vat"}],
            "prices": [
                {
                    "duration_unit": "y",
                    "min_duration": 1,
                    "max_duration": MAX_YEARS,
                    "price_after_taxes": price / 100,
                    "price_before_taxes": price / 100,
                }
            ],
        }
        return Reply(200, {"currency": "EUR", "grid": "A", "products": [product]})

    def _charge(self, fqdn: str, operation: str, years: int) -> Charge:
        charge = Charge(fqdn, operation, years, self._price(fqdn) * years, self.now())
        self.charges.append(charge)
        return charge

    def _register(self, fqdn: str | None, body: dict[str, Any]) -> Reply:
        fqdn = self._valid(fqdn, "fqdn", "body")
        years = self._duration(body)
        owner = body.get("owner")
        if not isinstance(owner, dict) or not owner.get("email"):
            raise _GandiError(_invalid("owner", "An owner contact with an email is required"))
        self._price(fqdn)
        if fqdn in self.domains or fqdn in self.taken:
            raise _GandiError(_problem(409, f"The domain {fqdn} is not available for registration"))
        now = self.now()
        domain = RegisteredDomain(fqdn, now, _add_years(now, years), owner=dict(owner))
        self.domains[fqdn] = domain
        charge = self._charge(fqdn, "create", years)
        body_out = {
            "message": "Confirmation",
            "fqdn": fqdn,
            "expires_at": domain.expires_at.isoformat(),
            "charged": {"amount": charge.amount / 100, "currency": "EUR"},
        }
        reply = Reply(202, body_out, effect="domain.registered")
        reply.headers["Location"] = f"/v5/domain/domains/{fqdn}"
        reply.detail = {"years": years, "amount": charge.amount}
        return reply

    def _renew(self, fqdn: str, body: dict[str, Any]) -> Reply:
        years = self._duration(body)
        domain = self.domains.get(fqdn)
        if domain is None:
            raise _GandiError(_problem(404, f"The domain {fqdn} was not found in this account"))
        new_expiry = _add_years(domain.expires_at, years)
        if new_expiry > _add_years(self.now(), MAX_YEARS):
            raise _GandiError(
                _problem(
                    422,
                    f"Renewing {fqdn} for {years} years would exceed the maximum "
                    f"registration period of {MAX_YEARS} years",
                )
            )
        domain.expires_at = new_expiry
        domain.renewals += 1
        charge = self._charge(fqdn, "renew", years)
        body_out = {
            "message": "Confirmation",
            "fqdn": fqdn,
            "expires_at": new_expiry.isoformat(),
            "charged": {"amount": charge.amount / 100, "currency": "EUR"},
        }
        reply = Reply(200, body_out, effect="domain.renewed")
        reply.detail = {
            "years": years,
            "amount": charge.amount,
            "expires_at": new_expiry.isoformat(),
        }
        return reply

    def _info(self, fqdn: str) -> Reply:
        domain = self.domains.get(fqdn)
        if domain is None:
            raise _GandiError(_problem(404, f"The domain {fqdn} was not found in this account"))
        expired = self.now() >= domain.expires_at
        body = {
            "fqdn": domain.fqdn,
            "fqdn_unicode": domain.fqdn,
            "tld": domain.fqdn.rsplit(".", 1)[-1],
            "status": ["clientHold"] if expired else ["clientTransferProhibited"],
            "expires_at": domain.expires_at.isoformat(),
            "dates": {
                "created_at": domain.created_at.isoformat(),
                "registry_created_at": domain.created_at.isoformat(),
                "registry_ends_at": domain.expires_at.isoformat(),
            },
            "nameservers": ["ns1.gandi.net", "ns2.gandi.net"],
            "autorenew": False,
        }
        return Reply(200, body)
