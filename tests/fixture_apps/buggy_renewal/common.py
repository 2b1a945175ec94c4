"""What both variants share: the registrar's address and the two HTTP calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests

REGISTRAR_URL = "https://registrar.fixture.test/v5"
TOKEN = "pat_dqharness"  # the fake registrar's default token, not a secret
TIMEOUT = (5, 30)


class RenewalFailed(Exception):
    """Raised so that Django-Q2 leaves the message un-acked and redelivers it."""


def _request(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = requests.request(
        method,
        f"{REGISTRAR_URL}{path}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=TIMEOUT,
        **kwargs,
    )
    if response.status_code not in (200, 201, 202):
        raise RenewalFailed(f"{method} {path}: HTTP {response.status_code}")
    body = response.json()
    if not isinstance(body, dict):
        raise RenewalFailed(f"{method} {path}: unexpected body")
    return body


def post_renewal(fqdn: str, years: int) -> dict[str, Any]:
    body = _request("POST", f"/domain/domains/{fqdn}/renew", json={"duration": years})
    if "expires_at" not in body:
        raise RenewalFailed(f"renew {fqdn}: no expiry in the answer")
    return {"renewed": fqdn, "expires_at": body["expires_at"]}


def current_expiry(fqdn: str) -> datetime:
    body = _request("GET", f"/domain/domains/{fqdn}")
    value = body.get("expires_at") or (body.get("dates") or {}).get("registry_ends_at")
    if not isinstance(value, str):
        raise RenewalFailed(f"read {fqdn}: no expiry in the answer")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
