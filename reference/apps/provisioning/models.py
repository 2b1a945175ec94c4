"""Virtualmin servers, hosting services and provisioning jobs.

A :class:`ProvisioningJob` is the unit of retry. Its transitions are conditional UPDATEs (see
:mod:`apps.provisioning.jobs`), never read-modify-write, so two workers holding copies of the
same broker message cannot both run it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models


class VirtualminServer(models.Model):
    class Scheme(models.TextChoices):
        HTTPS = "https"
        HTTP = "http"  # only for local fakes in development and tests

    name = models.CharField(max_length=100, unique=True)
    hostname = models.CharField(max_length=253)
    api_port = models.PositiveIntegerField(default=10000)
    scheme = models.CharField(max_length=5, choices=Scheme.choices, default=Scheme.HTTPS)
    username = models.CharField(max_length=100)
    password = models.CharField(max_length=200)
    verify_tls = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    is_healthy = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_health_check = models.DateTimeField(null=True, blank=True)
    last_health_error = models.CharField(max_length=500, blank=True)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.hostname}:{self.api_port}"

    def __str__(self) -> str:
        return f"{self.name} ({self.hostname}:{self.api_port})"


_known_passwords: set[str] = set()


def server_passwords() -> Iterable[str]:
    """Secret provider for :func:`apps.common.security.sanitize`: every password this process
    has loaded or saved (kept up to date by :func:`remember_password`).

    No query here, on purpose: log filters call it for every record, and a query from a log
    filter runs inside whatever transaction is logging (before migrate it would even abort it).
    A password can only reach this process's logs after its row was loaded here.
    """
    return sorted(_known_passwords)


def remember_password(sender: type, instance: VirtualminServer, **kwargs: object) -> None:
    """``post_init``/``post_save`` receiver feeding :func:`server_passwords`."""
    if instance.password:
        _known_passwords.add(instance.password)


class HostingService(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACTIVE = "active"
        SUSPENDED = "suspended"
        DELETED = "deleted"
        FAILED = "failed"

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="hosting_services"
    )
    server = models.ForeignKey(VirtualminServer, on_delete=models.PROTECT, related_name="services")
    domain = models.CharField(max_length=253, unique=True)
    username = models.CharField(max_length=32)
    template = models.CharField(max_length=100, default="Default Settings")
    plan = models.CharField(max_length=100, default="Starter")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.domain} ({self.status})"


class ProvisioningJob(models.Model):
    """pending → running → completed | failed; failed → pending again while retries remain."""

    class Operation(models.TextChoices):
        CREATE = "create_domain"
        SUSPEND = "disable_domain"
        UNSUSPEND = "enable_domain"
        DELETE = "delete_domain"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        # Not enqueued yet: its customer already has PRAHO_TENANT_MAX_INFLIGHT jobs in flight
        # (apps.provisioning.jobs.defer / release_deferred).
        DEFERRED = "deferred"

    service = models.ForeignKey(HostingService, on_delete=models.CASCADE, related_name="jobs")
    operation = models.CharField(max_length=20, choices=Operation.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    retry_count = models.PositiveIntegerField(default=0)
    max_retries = models.PositiveIntegerField(default=3)
    next_retry_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The claim: a dispatch writes a fresh nonce and passes it with the broker message; only a
    # message carrying the current nonce may start or finish the job.
    claim_nonce = models.CharField(max_length=32, blank=True)
    generation = models.PositiveIntegerField(default=0)  # dispatches so far; nonce = "<pk>.<n>"
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_retriability = models.CharField(max_length=20, blank=True)
    needs_reconcile = models.BooleanField(default=False)
    task_id = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["pk"]
        constraints = [
            # At most one unfinished job per service and operation: a double click or a
            # replayed request cannot queue the same mutation twice.
            models.UniqueConstraint(
                fields=["service", "operation"],
                condition=models.Q(status__in=["pending", "running", "deferred"]),
                name="one_open_job_per_service_operation",
            )
        ]

    @property
    def is_terminal(self) -> bool:
        return self.status == self.Status.COMPLETED or (
            self.status == self.Status.FAILED and self.next_retry_at is None
        )

    def __str__(self) -> str:
        return f"job {self.pk} {self.operation} {self.status}"
