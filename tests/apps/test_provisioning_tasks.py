"""Virtualmin task functions against the fake Virtualmin (in-process through ``responses``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from apps.common.models import AuditEvent
from apps.common.retriability import RetryableTaskError
from apps.provisioning import jobs, virtualmin_tasks
from apps.provisioning.models import HostingService, ProvisioningJob, VirtualminServer
from tests.apps.conftest import VM_HOST, make_virtualmin, run_queued

pytestmark = pytest.mark.django_db


def _effects(ledger: Any) -> list[str]:
    return [e.effect for e in ledger.effects()]


def test_provision_creates_the_domain_and_completes_the_job(virtualmin, ledger, service):
    result = virtualmin_tasks.provision_virtualmin_account(service.pk)

    assert result["success"] is True and result["action"] == "created"
    assert "ana-shop.ro" in virtualmin.server(VM_HOST).domains
    job = ProvisioningJob.objects.get(service=service)
    assert job.status == ProvisioningJob.Status.COMPLETED
    service.refresh_from_db()
    assert service.status == HostingService.Status.ACTIVE
    assert AuditEvent.objects.filter(event_type="task.completed").exists()
    assert _effects(ledger) == ["domain.created"]


@pytest.mark.django_db(transaction=True)
def test_async_wrapper_queues_once_and_the_real_worker_runs_it(virtualmin, ledger, service):
    first = virtualmin_tasks.provision_virtualmin_account_async(service.pk)
    second = virtualmin_tasks.provision_virtualmin_account_async(service.pk)

    assert first == second  # a double click does not queue the mutation twice
    done = run_queued()
    assert [d["success"] for d in done] == [True]
    assert done[0]["result"]["action"] == "created"
    assert _effects(ledger) == ["domain.created"]


def test_redelivered_message_is_harmless(virtualmin, ledger, service):
    job = jobs.request_job(service, ProvisioningJob.Operation.CREATE)
    first = virtualmin_tasks.provision_virtualmin_account(service.pk, job.pk, job.claim_nonce)
    again = virtualmin_tasks.provision_virtualmin_account(service.pk, job.pk, job.claim_nonce)

    assert first["success"] is True
    assert again == {"success": True, "job_id": job.pk, "skipped": "not_claimable"}
    assert _effects(ledger) == ["domain.created"]


@pytest.mark.django_db(transaction=True)
def test_lost_create_response_is_reconciled_not_resent(rsps, ledger, service):
    fake = make_virtualmin(
        rsps,
        ledger,
        {"rules": [{"type": "lost_response", "operation": "create-domain", "max_count": 1}]},
    )
    result = virtualmin_tasks.provision_virtualmin_account(service.pk)

    assert result["success"] is False and result["retriability"] == "unknown"
    job = ProvisioningJob.objects.get(service=service)
    assert job.status == ProvisioningJob.Status.FAILED and job.needs_reconcile
    assert job.next_retry_at is not None
    assert "ana-shop.ro" in fake.server(VM_HOST).domains  # it was applied after all

    # The retry sweep re-dispatches; the retry reads list-domains and adopts, never re-creates.
    ProvisioningJob.objects.filter(pk=job.pk).update(next_retry_at=timezone.now())
    sweep = virtualmin_tasks.process_failed_virtualmin_jobs()
    assert sweep["dispatched"] == 1
    done = run_queued()
    assert done[0]["result"]["action"] == "adopted"
    assert _effects(ledger) == ["domain.created"]
    creates = [e for e in ledger.entries() if e.operation == "create-domain"]
    assert len(creates) == 1


def test_rate_limit_is_retriable_and_raises_for_redelivery(rsps, ledger, service):
    make_virtualmin(rsps, ledger, {"rules": [{"type": "rate_limit", "operation": "list-domains"}]})

    with pytest.raises(RetryableTaskError):
        virtualmin_tasks.provision_virtualmin_account(service.pk)
    job = ProvisioningJob.objects.get(service=service)
    assert job.last_retriability == "retriable"
    assert job.next_retry_at is not None
    assert AuditEvent.objects.filter(event_type="task.failed").count() == 1


def test_wrong_password_is_terminal(rsps, ledger, service):
    make_virtualmin(rsps, ledger)
    VirtualminServer.objects.update(password="not-the-password")

    result = virtualmin_tasks.provision_virtualmin_account(service.pk)

    assert result["success"] is False and result["retriability"] == "not_retriable"
    assert "401" in result["error"]
    job = ProvisioningJob.objects.get(service=service)
    assert job.is_terminal
    service.refresh_from_db()
    assert service.status == HostingService.Status.FAILED


def test_suspend_unsuspend_delete_round_trip(virtualmin, ledger, service):
    assert virtualmin_tasks.provision_virtualmin_account(service.pk)["success"]
    assert virtualmin_tasks.suspend_virtualmin_account(service.pk)["action"] == "disabled"
    assert not virtualmin.server(VM_HOST).domains["ana-shop.ro"].enabled
    # Suspending again is a no-op on the server (reconciled first).
    assert virtualmin_tasks.suspend_virtualmin_account(service.pk)["action"] == "already_disabled"
    assert virtualmin_tasks.unsuspend_virtualmin_account(service.pk)["action"] == "enabled"
    assert virtualmin_tasks.delete_virtualmin_account(service.pk)["action"] == "deleted"
    assert virtualmin_tasks.delete_virtualmin_account(service.pk)["action"] == "already_absent"
    service.refresh_from_db()
    assert service.status == HostingService.Status.DELETED
    assert _effects(ledger) == [
        "domain.created",
        "domain.disabled",
        "domain.enabled",
        "domain.deleted",
    ]


def test_suspend_of_a_missing_domain_is_not_retried(virtualmin, service):
    result = virtualmin_tasks.suspend_virtualmin_account(service.pk)
    assert result["success"] is False and result["retriability"] == "not_retriable"


def test_invalid_input_is_refused_without_work(virtualmin, ledger):
    assert virtualmin_tasks.provision_virtualmin_account("1; drop")["success"] is False
    assert virtualmin_tasks.provision_virtualmin_account(10**9)["success"] is False
    assert ledger.entries() == []


def test_health_check_counts_and_marks_servers(rsps, ledger, server):
    fake = make_virtualmin(rsps, ledger)
    assert virtualmin_tasks.health_check_virtualmin_servers() == {
        "success": True,
        "healthy_servers": 1,
        "unhealthy_servers": 0,
    }
    fake.set_healthy(VM_HOST, False)
    for _ in range(3):
        result = virtualmin_tasks.health_check_virtualmin_servers()
    assert result["unhealthy_servers"] == 1
    server.refresh_from_db()
    assert not server.is_healthy and server.consecutive_failures == 3
    assert "503" in server.last_health_error


def test_health_check_skips_when_another_run_holds_the_lock(virtualmin, server):
    from apps.common.locks import acquire

    assert acquire("virtualmin-health-check", 600)
    assert virtualmin_tasks.health_check_virtualmin_servers()["message"] == "Already running"


@pytest.mark.django_db(transaction=True)
def test_retry_sweep_recovers_a_dead_worker_job(virtualmin, ledger, service):
    job = jobs.request_job(service, ProvisioningJob.Operation.CREATE)
    assert jobs.start(job.pk, job.claim_nonce) == jobs.StartOutcome.STARTED
    ProvisioningJob.objects.filter(pk=job.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    result = virtualmin_tasks.process_failed_virtualmin_jobs()
    assert result["recovered"] == 1 and result["dispatched"] == 1
    # The dead worker's message is stale now; the re-dispatched one completes the job.
    stale = virtualmin_tasks.provision_virtualmin_account(service.pk, job.pk, job.claim_nonce)
    assert stale["skipped"] == "stale_claim_discarded"
    done = run_queued()
    assert done[0]["result"]["success"] is True
    job.refresh_from_db()
    assert job.status == ProvisioningJob.Status.COMPLETED and job.retry_count == 1


@pytest.mark.django_db(transaction=True)
def test_every_async_wrapper_runs_through_the_worker(virtualmin, ledger, service):
    for wrapper in (
        virtualmin_tasks.provision_virtualmin_account_async,
        virtualmin_tasks.suspend_virtualmin_account_async,
        virtualmin_tasks.unsuspend_virtualmin_account_async,
        virtualmin_tasks.delete_virtualmin_account_async,
    ):
        task_id = wrapper(service.pk)
        done = run_queued()
        assert [d["success"] for d in done] == [True], wrapper.__name__
        assert ProvisioningJob.objects.get(task_id=task_id).status == "completed"
    assert _effects(ledger) == [
        "domain.created",
        "domain.disabled",
        "domain.enabled",
        "domain.deleted",
    ]


def test_a_message_for_another_service_is_refused(virtualmin, ledger, service, customer, server):
    other = HostingService.objects.create(
        customer=customer,
        server=server,
        domain="other.ro",
        username="other",
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )
    job = jobs.request_job(service, ProvisioningJob.Operation.CREATE)
    result = virtualmin_tasks.provision_virtualmin_account(other.pk, job.pk, job.claim_nonce)
    assert result["success"] is False and "does not match" in result["error"]
    assert ledger.entries() == []


def test_exhausted_retriable_failure_is_returned_not_raised(rsps, ledger, service):
    make_virtualmin(rsps, ledger, {"rules": [{"type": "rate_limit", "operation": "list-domains"}]})
    job = jobs.request_job(service, ProvisioningJob.Operation.CREATE, max_retries=0)

    result = virtualmin_tasks.provision_virtualmin_account(service.pk, job.pk, job.claim_nonce)

    assert result["success"] is False and result["next_retry_at"] is None
    job.refresh_from_db()
    assert job.is_terminal
    service.refresh_from_db()
    assert service.status == HostingService.Status.FAILED


def test_a_worker_that_lost_its_claim_mid_call_records_nothing(rsps, ledger, service, monkeypatch):
    from apps.provisioning.gateway import VirtualminGateway

    make_virtualmin(rsps, ledger, {"rules": [{"type": "rate_limit", "operation": "list-domains"}]})
    job = jobs.request_job(service, ProvisioningJob.Operation.CREATE)
    real = VirtualminGateway.get_domain

    def slow_call(self, domain):  # type: ignore[no-untyped-def]
        # Meanwhile the lease expired and the sweep handed the job to someone else.
        ProvisioningJob.objects.filter(pk=job.pk).update(claim_nonce=f"{job.pk}.9")
        return real(self, domain)

    monkeypatch.setattr(VirtualminGateway, "get_domain", slow_call)
    result = virtualmin_tasks.provision_virtualmin_account(service.pk, job.pk, job.claim_nonce)

    assert result == {"success": False, "job_id": job.pk, "error": "claim lost (stale nonce)"}
    job.refresh_from_db()
    assert job.status == ProvisioningJob.Status.RUNNING and job.last_error == ""
    assert not AuditEvent.objects.filter(event_type="task.failed").exists()
