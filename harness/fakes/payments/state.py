"""What the payments fake remembers between requests.

Kept apart from the handlers so that tests and the harness can inspect a fake's objects
(``fake.state.payment_intents``…), its idempotency records and its events without reading any
request logic, and so that the shape of the stored data is stated in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

#: Stripe prunes idempotency keys after 24 hours.
IDEMPOTENCY_TTL = timedelta(hours=24)


@dataclass
class StoredResponse:
    """What Stripe keeps per idempotency key."""

    created: datetime
    fingerprint: tuple[Any, ...]
    status: int
    body: Any


@dataclass
class PendingWebhook:
    event: dict[str, Any]
    attempts: int = 0
    delivered: bool = False
    in_flight: bool = False


@dataclass
class PaymentsState:
    """Inspectable state: every object by id, plus the idempotency store and events."""

    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, StoredResponse] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
