"""Virtualmin remote API gateway (``remote.cgi``) on ``requests``.

``GET {scheme}://{host}:{port}/virtual-server/remote.cgi?program=<cmd>&json=1&...`` with HTTP
Basic auth and explicit (connect, read) timeouts. Every failure becomes a
:class:`~apps.common.retriability.GatewayError` carrying a
:class:`~apps.common.retriability.Retriability` (production-facts §7, "Classification"):

====================================  ==============
HTTP 401 / 403 / other 4xx            NOT_RETRIABLE
HTTP 429                              RETRIABLE
HTTP >= 500                           UNKNOWN
ConnectTimeout                        RETRIABLE
ReadTimeout, ConnectionError          UNKNOWN
SSLError                              NOT_RETRIABLE
200 with a failure envelope           by error code, then by text (else UNKNOWN)
====================================  ==============

Read-only programs are idempotent, so their UNKNOWN failures are reported as RETRIABLE.
There is no retry loop in here (no ``sleep`` inside a worker): the job state machine retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

from apps.common.retriability import (
    GatewayError,
    Retriability,
    classify_error_text,
    classify_http_status,
    classify_transport_error,
)
from apps.common.security import safe_error
from apps.provisioning.models import VirtualminServer

API_PATH = "/virtual-server/remote.cgi"
READ_ONLY_PROGRAMS = frozenset({"info", "list-domains", "list-templates", "list-bandwidth"})
MUTATING_PROGRAMS = frozenset({"create-domain", "delete-domain", "disable-domain", "enable-domain"})
_RETRIABLE_CODES = {429}  # a refusal; a 5xx code is a failure while working: UNKNOWN
_NOT_RETRIABLE_CODES = {400, 401, 403, 404, 409, 422}


@dataclass(frozen=True)
class DomainInfo:
    name: str
    username: str
    enabled: bool


class VirtualminGateway:
    """One Virtualmin server's API. Thread-safe enough for one task at a time."""

    def __init__(self, server: VirtualminServer, session: requests.Session | None = None):
        self.server = server
        self.session = session or requests.Session()
        self.session.trust_env = False  # proxies from the environment must not see our auth

    @property
    def timeout(self) -> tuple[float, float]:
        return (
            float(getattr(settings, "VIRTUALMIN_CONNECT_TIMEOUT", 5)),
            float(getattr(settings, "VIRTUALMIN_READ_TIMEOUT", 60)),
        )

    def call(self, program: str, **params: Any) -> dict[str, Any]:
        """Run ``program``; return the success envelope or raise :class:`GatewayError`."""
        if program not in READ_ONLY_PROGRAMS | MUTATING_PROGRAMS:
            raise GatewayError(f"program {program} is not allowed", Retriability.NOT_RETRIABLE)
        read_only = program in READ_ONLY_PROGRAMS
        try:
            response = self.session.get(
                f"{self.server.base_url}{API_PATH}",
                params={"program": program, "json": "1", **params},
                auth=(self.server.username, self.server.password),
                timeout=self.timeout,
                verify=self.server.verify_tls,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise self._error(
                f"{program}: {type(exc).__name__}: {safe_error(exc)}",
                classify_transport_error(exc),
                read_only,
            ) from None
        if response.status_code != 200:
            reason = _envelope_error(response) or response.reason or "HTTP error"
            raise self._error(
                f"{program}: HTTP {response.status_code}: {reason}",
                classify_http_status(response.status_code),
                read_only,
                status=response.status_code,
            )
        try:
            body = response.json()
        except ValueError:
            raise self._error(
                f"{program}: response is not JSON", Retriability.UNKNOWN, read_only, status=200
            ) from None
        if not isinstance(body, dict):
            raise self._error(f"{program}: unexpected response", Retriability.UNKNOWN, read_only)
        status = str(body.get("status", "")).lower()
        if (
            status in ("failure", "error", "failed")
            or body.get("success") is False
            or (body.get("error"))
        ):
            error = str(body.get("error") or "unknown failure")
            raise self._error(
                f"{program}: {error}", _classify_envelope(body, error), read_only, status=200
            )
        return body

    @staticmethod
    def _error(
        message: str, retriability: Retriability, read_only: bool, status: int | None = None
    ) -> GatewayError:
        if read_only and retriability == Retriability.UNKNOWN:
            retriability = Retriability.RETRIABLE
        return GatewayError(safe_error(message), retriability, status)

    # -- the operations the tasks use ---------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return self.call("info").get("data") or {}

    def get_domain(self, domain: str) -> DomainInfo | None:
        """The domain as Virtualmin has it now, or None (the reconcile read)."""
        body = self.call("list-domains", domain=domain, multiline="")
        for entry in body.get("data") or []:
            if str(entry.get("name", "")).lower() == domain:
                values = entry.get("values") or {}
                return DomainInfo(
                    name=domain,
                    username=str(_first(values.get("Username")) or ""),
                    enabled=str(_first(values.get("Status")) or "Enabled").lower() != "disabled",
                )
        return None

    def create_domain(self, domain: str, user: str, password: str, template: str) -> None:
        self.call(
            "create-domain", domain=domain, user=user, **{"pass": password}, template=template
        )

    def disable_domain(self, domain: str) -> None:
        self.call("disable-domain", domain=domain)

    def enable_domain(self, domain: str) -> None:
        self.call("enable-domain", domain=domain)

    def delete_domain(self, domain: str) -> None:
        self.call("delete-domain", domain=domain)


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _envelope_error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error") or "") if isinstance(body, dict) else ""


def _classify_envelope(body: dict[str, Any], error: str) -> Retriability:
    code = body.get("error_code", body.get("code"))
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    if code in _RETRIABLE_CODES:
        return Retriability.RETRIABLE
    if code is not None and code >= 500:
        return Retriability.UNKNOWN  # as an HTTP 5xx: may have been applied
    if code in _NOT_RETRIABLE_CODES:
        return Retriability.NOT_RETRIABLE
    return classify_error_text(error)
