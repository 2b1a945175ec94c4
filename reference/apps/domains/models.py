"""Domains and renewal intents (the registrar idempotency claim)."""

from __future__ import annotations

from django.db import models


class Domain(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        EXPIRED = "expired"

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="domains"
    )
    name = models.CharField(max_length=253, unique=True)
    expires_at = models.DateTimeField(db_index=True)
    auto_renew = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)

    def __str__(self) -> str:
        return self.name


class RenewalIntent(models.Model):
    """One renewal of one term of one domain: ``(domain, period)`` is unique.

    ``period`` is the expiry date being extended. The row is written (committed) before the
    registrar is called. It is deleted when the call provably did nothing (RETRIABLE or
    NOT_RETRIABLE), and KEPT when the outcome is UNKNOWN, so no later run can renew the same
    term again; an UNKNOWN intent is resolved only by reading the registrar's expiry date.
    """

    class Status(models.TextChoices):
        CLAIMED = "claimed"
        SUCCEEDED = "succeeded"
        UNKNOWN = "unknown"

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="renewals")
    period = models.DateField()
    years = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CLAIMED)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["domain", "period"], name="one_renewal_per_term")
        ]

    def __str__(self) -> str:
        return f"renew {self.domain_id} term {self.period} ({self.status})"
