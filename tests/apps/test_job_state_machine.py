"""The provisioning job's claim: stale nonce, double claim, expired lease, exhaustion."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from apps.common.retriability import Retriability
from apps.provisioning import jobs
from apps.provisioning.models import ProvisioningJob

pytestmark = [pytest.mark.django_db, pytest.mark.dbpath]

CREATE = ProvisioningJob.Operation.CREATE


def test_new_job_is_pending_with_a_nonce_and_reused_while_open(service):
    job = jobs.request_job(service, CREATE)
    assert job.status == ProvisioningJob.Status.PENDING and job.claim_nonce == f"{job.pk}.1"
    assert jobs.request_job(service, CREATE).pk == job.pk
    assert jobs.request_job(service, ProvisioningJob.Operation.SUSPEND).pk != job.pk


def test_double_claim_only_one_wins(service):
    job = jobs.request_job(service, CREATE)
    assert jobs.start(job.pk, job.claim_nonce) == jobs.StartOutcome.STARTED
    assert jobs.start(job.pk, job.claim_nonce) == jobs.StartOutcome.CLAIMED_ELSEWHERE


def test_stale_nonce_is_refused_everywhere(service):
    job = jobs.request_job(service, CREATE)
    assert jobs.start(job.pk, f"{job.pk}.0") == jobs.StartOutcome.STALE_CLAIM
    assert jobs.start(job.pk, job.claim_nonce) == jobs.StartOutcome.STARTED
    assert not jobs.complete(job.pk, f"{job.pk}.0")
    assert not jobs.fail(job.pk, f"{job.pk}.0", "x", Retriability.RETRIABLE).recorded
    job.refresh_from_db()
    assert job.status == ProvisioningJob.Status.RUNNING


def test_expired_lease_is_reclaimable_and_the_old_holder_cannot_finish(service):
    job = jobs.request_job(service, CREATE)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert jobs.start(job.pk, job.claim_nonce) == jobs.StartOutcome.STARTED
    later = start + dt.timedelta(seconds=jobs.LEASE_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        # The same message redelivered after the worker died takes the job over ...
        assert jobs.start(job.pk, job.claim_nonce) == jobs.StartOutcome.STARTED
        # ... but once the sweep recovers it, the old nonce is dead for good.
        ProvisioningJob.objects.filter(pk=job.pk).update(lease_expires_at=later)
        assert jobs.recover_lost(later + dt.timedelta(seconds=1)) == 1
    old = job.claim_nonce
    job.refresh_from_db()
    assert job.status == ProvisioningJob.Status.FAILED and job.claim_nonce == ""
    assert jobs.start(job.pk, old) == jobs.StartOutcome.STALE_CLAIM
    assert not jobs.complete(job.pk, old)


def test_backoff_is_exponential_until_exhaustion_then_terminal(service):
    job = jobs.request_job(service, CREATE, max_retries=3)
    nonce = job.claim_nonce
    now = timezone.now()
    delays = []
    for attempt in range(4):
        with time_machine.travel(now, tick=False):
            assert jobs.start(job.pk, nonce) == jobs.StartOutcome.STARTED
            failure = jobs.fail(job.pk, nonce, "Too many requests", Retriability.RETRIABLE)
        retry_at = failure.retry_at
        if attempt == 3:
            assert failure.terminal  # exhausted
            break
        delays.append(retry_at - now)
        now = retry_at
        with time_machine.travel(now, tick=False):
            assert jobs.due_for_retry() == [job.pk]
            nonce = jobs.claim_for_retry(job.pk)
            assert nonce == f"{job.pk}.{attempt + 2}"  # a new, deterministic fencing token
            assert jobs.claim_for_retry(job.pk) is None  # claimed once only
    assert delays == [dt.timedelta(minutes=m) for m in (5, 10, 20)]
    job.refresh_from_db()
    assert job.is_terminal and job.retry_count == 3
    with time_machine.travel(now + dt.timedelta(days=1), tick=False):
        assert jobs.due_for_retry() == [] and jobs.claim_for_retry(job.pk) is None


def test_not_retriable_failure_is_terminal_at_once(service):
    job = jobs.request_job(service, CREATE)
    jobs.start(job.pk, job.claim_nonce)
    assert jobs.fail(job.pk, job.claim_nonce, "Invalid domain", Retriability.NOT_RETRIABLE).terminal
    job.refresh_from_db()
    assert job.is_terminal and job.last_retriability == "not_retriable"


def test_terminalize_exhausted_stops_waiting_rows(service):
    job = jobs.request_job(service, CREATE, max_retries=1)
    ProvisioningJob.objects.filter(pk=job.pk).update(
        status=ProvisioningJob.Status.FAILED, retry_count=1, next_retry_at=timezone.now()
    )
    assert jobs.terminalize_exhausted() == 1
    job.refresh_from_db()
    assert job.is_terminal


def test_stuck_pending_job_is_recovered(service):
    job = jobs.request_job(service, CREATE)
    later = timezone.now() + dt.timedelta(minutes=jobs.STUCK_PENDING_MINUTES + 1)
    assert jobs.recover_lost(later) == 1
    job.refresh_from_db()
    assert job.status == ProvisioningJob.Status.FAILED and job.needs_reconcile


def test_enqueue_failure_gives_the_retry_back(service):
    job = jobs.request_job(service, CREATE)
    ProvisioningJob.objects.filter(pk=job.pk).update(
        status=ProvisioningJob.Status.FAILED, next_retry_at=timezone.now()
    )
    nonce = jobs.claim_for_retry(job.pk)
    jobs.release_after_enqueue_failure(job.pk, nonce)
    job.refresh_from_db()
    assert job.status == ProvisioningJob.Status.FAILED and job.retry_count == 0
    assert job.next_retry_at > timezone.now()
