"""Stateful HTTP fakes (Virtualmin, a Stripe subset, a Gandi-style registrar) with seeded fault
plans and an effect ledger. They know nothing of Django-Q2: give them a ``now()`` and a seed.

A project's own fake subclasses :class:`FakeService` and declares its endpoints with
:func:`route` (docs/fakes.md); a scenario mounts it with ``[fakes.NAME] app = "path:Class"``.
"""

from __future__ import annotations

from harness.fakes.base import Call, FakeApp, Reply
from harness.fakes.faults import Fault, FaultInjector, FaultPlan, FaultPlanError
from harness.fakes.ledger import ATTEMPT_HEADER, TASK_HEADER, Ledger, LedgerEntry
from harness.fakes.payments import FakePayments
from harness.fakes.registrar import FakeRegistrar
from harness.fakes.service import FakeService, route
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
    "Call",
    "FakeApp",
    "FakePayments",
    "FakeRegistrar",
    "FakeService",
    "FakeVirtualmin",
    "Fault",
    "FaultInjector",
    "FaultPlan",
    "FaultPlanError",
    "Ledger",
    "LedgerEntry",
    "Reply",
    "ServedApp",
    "mount_responses",
    "route",
    "serve",
]
