"""Registrar gateway, Gandi v5 style, on ``requests``.

* renew: ``POST {REGISTRAR_API_BASE}/domain/domains/{d}/renew`` body ``{"duration": n}``
* read:  ``GET  {REGISTRAR_API_BASE}/domain/domains/{d}``
* auth:  ``Authorization: Bearer {REGISTRAR_API_TOKEN}``

Errors (production-facts §7): 400/401/403/404/409/422 → NOT_RETRIABLE; 429 → RETRIABLE;
>=500 and other statuses → UNKNOWN; transport errors on the renewal → UNKNOWN (except
ConnectTimeout: RETRIABLE); transport errors on reads → RETRIABLE.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests
from django.conf import settings
from django.utils.dateparse import parse_datetime

from apps.common.retriability import (
    GatewayError,
    Retriability,
    classify_http_status,
    classify_transport_error,
)
from apps.common.security import safe_error


class RegistrarGateway:
    def __init__(self, session: requests.Session | None = None):
        self.session = session or requests.Session()
        self.session.trust_env = False
        self.base = settings.REGISTRAR_API_BASE.rstrip("/")

    @property
    def timeout(self) -> tuple[float, float]:
        return (
            float(getattr(settings, "REGISTRAR_CONNECT_TIMEOUT", 5)),
            float(getattr(settings, "REGISTRAR_READ_TIMEOUT", 30)),
        )

    def _request(self, method: str, path: str, *, mutating: bool, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.session.request(
                method,
                f"{self.base}{path}",
                headers={"Authorization": f"Bearer {settings.REGISTRAR_API_TOKEN}"},
                timeout=self.timeout,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as exc:
            retriability = classify_transport_error(exc) if mutating else Retriability.RETRIABLE
            raise GatewayError(
                safe_error(f"{method} {path}: {type(exc).__name__}: {exc}"), retriability
            ) from None
        if response.status_code not in (200, 201, 202):
            retriability = classify_http_status(response.status_code)
            if not mutating and retriability == Retriability.UNKNOWN:
                retriability = Retriability.RETRIABLE
            raise GatewayError(
                safe_error(f"{method} {path}: HTTP {response.status_code}: {_reason(response)}"),
                retriability,
                response.status_code,
            )
        try:
            body = response.json()
        except ValueError:
            body = {}
        return body if isinstance(body, dict) else {}

    def renew(self, domain: str, years: int) -> dt.datetime | None:
        """Renew; returns the new expiry if the registrar said it."""
        body = self._request(
            "POST", f"/domain/domains/{domain}/renew", mutating=True, json={"duration": years}
        )
        return _expiry(body)

    def expiry(self, domain: str) -> dt.datetime | None:
        """The registrar's current expiry date for ``domain`` (the reconcile read)."""
        return _expiry(self._request("GET", f"/domain/domains/{domain}", mutating=False))


def _expiry(body: dict[str, Any]) -> dt.datetime | None:
    dates = body.get("dates") if isinstance(body.get("dates"), dict) else {}
    for value in (body.get("expires_at"), dates.get("registry_ends_at"), dates.get("expires_at")):
        if isinstance(value, str):
            parsed = parse_datetime(value)
            if parsed is not None:
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or response.reason or "")
    return response.reason or ""
