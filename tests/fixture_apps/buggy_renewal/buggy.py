"""The buggy variant: a transport failure after sending is treated as "not done"."""

from __future__ import annotations

from typing import Any

from tests.fixture_apps.buggy_renewal.common import post_renewal


def renew_domain(fqdn: str, years: int, expires_at: str) -> dict[str, Any]:
    """Renew ``fqdn`` by ``years``; any exception makes Django-Q2 run it again (blind resend)."""
    return post_renewal(fqdn, years)
