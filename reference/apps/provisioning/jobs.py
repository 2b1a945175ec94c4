"""The provisioning job state machine: claims with a lease and a nonce.

Every transition is one conditional ``UPDATE ... WHERE`` (compare-and-set), committed before
any HTTP call, so:

* a redelivered broker message whose nonce is no longer current is refused (stale claim);
* two copies of the current message cannot both start the job (double claim): the loser sees
  ``running`` with a live lease;
* a job whose worker died is reclaimable once its lease expires;
* retries consume ``retry_count`` at claim time and stop at ``max_retries`` (terminal failure);
* one customer has at most ``PRAHO_TENANT_MAX_INFLIGHT`` jobs in flight (queued or running);
  more wait as ``deferred`` and are released oldest first as earlier ones end, so one
  reseller's 500-account order cannot starve every other customer's (the seed's multi-tenant
  isolation; the ``tenant-burst`` scenario proves it).

``LEASE_SECONDS`` is longer than any provisioning task's timeout (a live worker never loses its
lease) and shorter than the broker's ``retry`` (a redelivery of a dead worker's message finds
the lease expired and may reclaim).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.common.retriability import Retriability
from apps.common.security import safe_error
from apps.provisioning.models import HostingService, ProvisioningJob

LEASE_SECONDS = 300
BACKOFF_BASE_MINUTES = 5
STUCK_PENDING_MINUTES = 30

Job = ProvisioningJob
OPEN = (Job.Status.PENDING, Job.Status.RUNNING, Job.Status.DEFERRED)


class StartOutcome(enum.StrEnum):
    STARTED = "started"
    STALE_CLAIM = "stale_claim_discarded"
    CLAIMED_ELSEWHERE = "claimed_elsewhere"
    NOT_CLAIMABLE = "not_claimable"  # completed, or failed awaiting its retry
    MISSING = "missing"


def nonce_for(job_id: int, generation: int) -> str:
    """The fencing token of one dispatch. Deterministic (the harness replays byte-identical
    runs) and unique per dispatch, because ``generation`` only ever grows."""
    return f"{job_id}.{generation}"


def backoff(retry_count: int) -> timedelta:
    """5, 10, 20, 40 ... minutes: exponential in the retries already consumed."""
    return timedelta(minutes=BACKOFF_BASE_MINUTES * 2**retry_count)


def request_job(service: HostingService, operation: str, *, max_retries: int = 3) -> Job:
    """The open job for (service, operation), or a new pending one with a fresh nonce.

    A failed job still waiting for its retry counts as open too: asking again must not start a
    second, parallel attempt of the same mutation.
    """
    now = timezone.now()
    # savepoint=False: inside a caller's transaction (the enqueue) a failure here fails the
    # whole of it anyway, and two round trips per request are saved
    with transaction.atomic(savepoint=False):
        HostingService.objects.select_for_update().filter(pk=service.pk).first()
        existing = (
            Job.objects.filter(service=service, operation=operation)
            .filter(Q(status__in=OPEN) | Q(status=Job.Status.FAILED, next_retry_at__isnull=False))
            .order_by("-pk")
            .first()
        )
        if existing is not None:
            return existing
        job = Job.objects.create(
            service=service,
            operation=operation,
            max_retries=max_retries,
            generation=1,
            created_at=now,
            updated_at=now,
        )
        job.claim_nonce = nonce_for(job.pk, 1)
        job.save(update_fields=["claim_nonce"])
        return job


def start(job_id: int, nonce: str) -> StartOutcome:
    """Claim the job for this message: pending → running, or take over an expired lease."""
    now = timezone.now()
    claimable = Q(status=Job.Status.PENDING) | Q(
        status=Job.Status.RUNNING, lease_expires_at__lte=now
    )
    updated = Job.objects.filter(claimable, pk=job_id, claim_nonce=nonce).update(
        status=Job.Status.RUNNING,
        lease_expires_at=now + timedelta(seconds=LEASE_SECONDS),
        started_at=now,
        updated_at=now,
    )
    if updated:
        return StartOutcome.STARTED
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return StartOutcome.MISSING
    if job.claim_nonce != nonce:
        return StartOutcome.STALE_CLAIM
    if job.status == Job.Status.RUNNING:
        return StartOutcome.CLAIMED_ELSEWHERE
    return StartOutcome.NOT_CLAIMABLE


def complete(job_id: int, nonce: str) -> bool:
    """running → completed, only for the current claim."""
    now = timezone.now()
    return bool(
        Job.objects.filter(pk=job_id, claim_nonce=nonce, status=Job.Status.RUNNING).update(
            status=Job.Status.COMPLETED,
            finished_at=now,
            updated_at=now,
            lease_expires_at=None,
            next_retry_at=None,
            last_error="",
            needs_reconcile=False,
        )
    )


@dataclass(frozen=True)
class Failure:
    """What :func:`fail` recorded: nothing (stale claim), a planned retry, or a terminal end."""

    recorded: bool
    retry_at: datetime | None = None

    @property
    def terminal(self) -> bool:
        return self.recorded and self.retry_at is None


def fail(job_id: int, nonce: str, error: str, retriability: Retriability) -> Failure:
    """running → failed; arm ``next_retry_at`` while retries remain and a retry is safe.

    UNKNOWN outcomes are retried only because every operation reconciles first (reads the
    remote state before mutating); the job is flagged ``needs_reconcile`` for the record.
    """
    now = timezone.now()
    job = Job.objects.filter(pk=job_id, claim_nonce=nonce, status=Job.Status.RUNNING).first()
    if job is None:
        return Failure(recorded=False)
    can_retry = retriability != Retriability.NOT_RETRIABLE and job.retry_count < job.max_retries
    retry_at = now + backoff(job.retry_count) if can_retry else None
    updated = Job.objects.filter(pk=job_id, claim_nonce=nonce, status=Job.Status.RUNNING).update(
        status=Job.Status.FAILED,
        finished_at=now,
        updated_at=now,
        lease_expires_at=None,
        next_retry_at=retry_at,
        last_error=safe_error(error),
        last_retriability=str(retriability),
        needs_reconcile=retriability == Retriability.UNKNOWN,
    )
    return Failure(recorded=bool(updated), retry_at=retry_at if updated else None)


def claim_for_retry(job_id: int) -> str | None:
    """failed (due, retries left) → pending with a fresh nonce; consumes one retry.

    Compare-and-set on ``generation``: of two concurrent claimers only one can move it.
    """
    now = timezone.now()
    generation = Job.objects.filter(pk=job_id).values_list("generation", flat=True).first()
    if generation is None:
        return None
    nonce = nonce_for(job_id, generation + 1)
    updated = Job.objects.filter(
        pk=job_id,
        generation=generation,
        status=Job.Status.FAILED,
        next_retry_at__lte=now,
        retry_count__lt=F("max_retries"),
    ).update(
        status=Job.Status.PENDING,
        generation=generation + 1,
        retry_count=F("retry_count") + 1,
        claim_nonce=nonce,
        next_retry_at=None,
        updated_at=now,
    )
    return nonce if updated else None


def release_after_enqueue_failure(job_id: int, nonce: str) -> None:
    """The broker refused the message: back to failed, due again in 5 minutes."""
    now = timezone.now()
    Job.objects.filter(pk=job_id, claim_nonce=nonce, status=Job.Status.PENDING).update(
        status=Job.Status.FAILED,
        claim_nonce="",
        retry_count=F("retry_count") - 1,
        next_retry_at=now + timedelta(minutes=BACKOFF_BASE_MINUTES),
        updated_at=now,
    )


def recover_lost(now: datetime | None = None) -> int:
    """Running jobs whose lease expired, and pending jobs never started, become failed-due.

    Clearing the nonce makes any old copy of their broker message stale.
    """
    now = now or timezone.now()
    stuck = Q(status=Job.Status.RUNNING, lease_expires_at__lte=now) | Q(
        status=Job.Status.PENDING,
        updated_at__lte=now - timedelta(minutes=STUCK_PENDING_MINUTES),
    )
    return Job.objects.filter(stuck).update(
        status=Job.Status.FAILED,
        claim_nonce="",
        lease_expires_at=None,
        next_retry_at=now,
        last_error="worker lost: lease expired or message never ran",
        last_retriability=str(Retriability.UNKNOWN),
        needs_reconcile=True,
        updated_at=now,
    )


def terminalize_exhausted() -> int:
    """Failed jobs with no retries left stop waiting: ``next_retry_at = NULL`` (terminal)."""
    return Job.objects.filter(
        status=Job.Status.FAILED,
        next_retry_at__isnull=False,
        retry_count__gte=F("max_retries"),
    ).update(next_retry_at=None, updated_at=timezone.now())


def due_for_retry(limit: int = 50) -> list[int]:
    now = timezone.now()
    return list(
        Job.objects.filter(
            status=Job.Status.FAILED,
            next_retry_at__lte=now,
            retry_count__lt=F("max_retries"),
        )
        .order_by("next_retry_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


# -- per-customer isolation ---------------------------------------------------------------------
def in_flight(customer_id: int) -> int:
    """The customer's jobs queued (pending with a message) or running."""
    return (
        Job.objects.filter(service__customer_id=customer_id)
        .filter(Q(status=Job.Status.RUNNING) | Q(status=Job.Status.PENDING) & ~Q(task_id=""))
        .count()
    )


def must_defer(customer_id: int) -> bool:
    """Over the cap? Locks the customer row, so concurrent requests count one at a time
    (call inside the transaction that enqueues or defers)."""
    from django.conf import settings

    from apps.customers.models import Customer

    cap = getattr(settings, "PRAHO_TENANT_MAX_INFLIGHT", 0)
    if cap <= 0:
        return False
    Customer.objects.select_for_update().filter(pk=customer_id).first()
    return in_flight(customer_id) >= cap


def defer(job_id: int) -> None:
    Job.objects.filter(pk=job_id, status=Job.Status.PENDING).update(
        status=Job.Status.DEFERRED, updated_at=timezone.now()
    )


def take_deferred(customer_id: int) -> list[Job]:
    """The customer's oldest deferred jobs that fit under the cap now, moved back to pending
    (fresh ``updated_at``: the stuck-pending recovery counts from here)."""
    from django.conf import settings

    cap = getattr(settings, "PRAHO_TENANT_MAX_INFLIGHT", 0)
    free = None if cap <= 0 else max(0, cap - in_flight(customer_id))
    waiting = Job.objects.filter(service__customer_id=customer_id, status=Job.Status.DEFERRED)
    chosen = list(waiting.order_by("pk")[:free] if free is not None else waiting.order_by("pk"))
    now = timezone.now()
    Job.objects.filter(pk__in=[j.pk for j in chosen]).update(
        status=Job.Status.PENDING, updated_at=now
    )
    for job in chosen:
        job.status, job.updated_at = Job.Status.PENDING, now
    return chosen


def customers_with_deferred() -> list[int]:
    return sorted(
        set(
            Job.objects.filter(status=Job.Status.DEFERRED).values_list(
                "service__customer_id", flat=True
            )
        )
    )
