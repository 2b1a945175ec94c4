"""Setup and load callables the fixture's scenario names (``harness.scenario`` format).

``RENEWAL_VARIANT`` (environment: ``buggy``, the default, or ``fixed``) picks which twin the
renewals run, so one scenario file replays against either: ``RENEWAL_VARIANT=fixed harness
replay FILE``.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from django_q.tasks import async_task

VARIANTS = ("buggy", "fixed")


def variant() -> str:
    chosen = os.environ.get("RENEWAL_VARIANT", "buggy")
    if chosen not in VARIANTS:
        raise ValueError(f"RENEWAL_VARIANT={chosen!r}: expected one of {', '.join(VARIANTS)}")
    return chosen


def hold_domains(domains: dict[str, str], fakes: dict[str, Any]) -> None:
    """Setup: the registrar account already holds these domains (fqdn → expiry)."""
    for fqdn, expiry in domains.items():
        fakes["registrar"].add_domain(fqdn, datetime.fromisoformat(expiry))


def renew(fqdn: str, years: int, expires_at: str) -> str:
    """Load: queue one renewal with the chosen variant's task."""
    func = f"tests.fixture_apps.buggy_renewal.{variant()}.renew_domain"
    return async_task(func, fqdn, years, expires_at)
