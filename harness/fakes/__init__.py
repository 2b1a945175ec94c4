"""Stateful HTTP fakes (Virtualmin, a Stripe subset, a Gandi-style registrar) with seeded fault
plans and an effect ledger. They know nothing of Django-Q2: give them a ``now()`` and a seed.
"""

from __future__ import annotations

from harness.fakes.faults import Fault, FaultInjector, FaultPlan, FaultPlanError
from harness.fakes.ledger import ATTEMPT_HEADER, TASK_HEADER, Ledger, LedgerEntry
from harness.fakes.payments import FakePayments
from harness.fakes.registrar import FakeRegistrar
from harness.fakes.transport import ServedApp, mount_responses, serve
from harness.fakes.virtualmin import FakeVirtualmin

FAKES: dict[str, type] = {
    "virtualmin": FakeVirtualmin,
    "payments": FakePayments,
    "registrar": FakeRegistrar,
}
"""Fake kind (a scenario's ``[fakes.<kind>]``) → class. A new fake is added here."""

__all__ = [
    "ATTEMPT_HEADER",
    "FAKES",
    "TASK_HEADER",
    "FakePayments",
    "FakeRegistrar",
    "FakeVirtualmin",
    "Fault",
    "FaultInjector",
    "FaultPlan",
    "FaultPlanError",
    "Ledger",
    "LedgerEntry",
    "ServedApp",
    "mount_responses",
    "serve",
]
