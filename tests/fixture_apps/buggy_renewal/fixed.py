"""The fixed twin: reconcile first, so a redelivery after a lost answer renews nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.fixture_apps.buggy_renewal.common import current_expiry, post_renewal


def renew_domain(fqdn: str, years: int, expires_at: str) -> dict[str, Any]:
    """Renew the term ending at ``expires_at`` once: skip when the registrar already moved it."""
    now_expires = current_expiry(fqdn)
    if now_expires > datetime.fromisoformat(expires_at):
        return {"already_renewed": fqdn, "expires_at": now_expires.isoformat()}
    return post_renewal(fqdn, years)
