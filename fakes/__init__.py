"""Stateful HTTP fakes (Virtualmin, a Stripe subset, a Gandi-style registrar) with seeded fault
plans and an effect ledger. They know nothing of Django-Q2: give them a ``now()`` and a seed.
"""

from __future__ import annotations

from fakes.faults import Fault, FaultInjector, FaultPlan, FaultPlanError
from fakes.ledger import ATTEMPT_HEADER, TASK_HEADER, Ledger, LedgerEntry
from fakes.payments import FakePayments
from fakes.registrar import FakeRegistrar
from fakes.transport import ServedApp, mount_responses, serve
from fakes.virtualmin import FakeVirtualmin

__all__ = [
    "ATTEMPT_HEADER",
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
