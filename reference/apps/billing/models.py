"""Subscriptions, invoices, payment attempts and received Stripe webhook events."""

from __future__ import annotations

from django.db import models


class Subscription(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        PAST_DUE = "past_due"
        SUSPENDED = "suspended"
        CANCELLED = "cancelled"

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="subscriptions"
    )
    service = models.ForeignKey(
        "provisioning.HostingService",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="subscriptions",
    )
    plan = models.CharField(max_length=100)
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="eur")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    next_billing_date = models.DateField(db_index=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.plan} for customer {self.customer_id} ({self.status})"


class Invoice(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        PAID = "paid"
        UNCOLLECTIBLE = "uncollectible"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="invoices"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="invoices"
    )
    number = models.CharField(max_length=30, unique=True)
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.OPEN)
    issued_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One invoice per subscription period: overlapping or repeated runs cannot double-bill.
            models.UniqueConstraint(
                fields=["subscription", "period_start"], name="one_invoice_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.status})"


class Payment(models.Model):
    """One collection attempt. Its idempotency key is stored before Stripe is called and reused
    on every retry of the same attempt, so a lost response can never charge twice."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        SUCCEEDED = "succeeded"
        DECLINED = "declined"
        FAILED = "failed"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    attempt = models.PositiveSmallIntegerField()
    idempotency_key = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    scheduled_for = models.DateTimeField(db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    # When this attempt (this key) first went to Stripe: keys are kept about 24 hours, after
    # which a resend with the same key is a NEW charge.
    first_sent_at = models.DateTimeField(null=True, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=100, blank=True, db_index=True)
    decline_code = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=500, blank=True)
    send_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["invoice_id", "attempt"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "attempt"], name="one_payment_per_attempt")
        ]

    def __str__(self) -> str:
        return f"payment {self.invoice_id}#{self.attempt} ({self.status})"


class WebhookEvent(models.Model):
    """A received Stripe event. Only ``processed`` events count as duplicates: a failed one is
    processed again when Stripe redelivers it (PRAHO's 77af719d)."""

    class Status(models.TextChoices):
        RECEIVED = "received"
        PROCESSED = "processed"
        FAILED = "failed"

    event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} ({self.status})"
