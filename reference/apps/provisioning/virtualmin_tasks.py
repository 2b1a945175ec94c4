"""Virtualmin tasks: provision / suspend / unsuspend / delete accounts, health, retries.

Every operation runs as a :class:`~apps.provisioning.models.ProvisioningJob`:

1. ``*_async`` creates (or reuses) the open job and enqueues the task *in the same
   transaction* (ORM broker: the job and its message commit together or not at all), passing
   the job id and its claim nonce.
2. The task claims the job (conditional UPDATE, committed), then talks HTTP outside any
   transaction, then records the outcome with another conditional UPDATE.
3. Each operation **reconciles first**: it reads ``list-domains`` and only sends the mutation
   if the remote state still needs it. A ``create-domain`` whose response was lost (UNKNOWN) is
   therefore never blindly re-sent; a redelivered message is harmless.
4. RETRIABLE failures raise (the seed's "raise to retry"); the job itself is re-dispatched by
   ``process_failed_virtualmin_jobs`` with exponential backoff until ``max_retries``.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from apps.common.audit import AuditService
from apps.common.locks import distributed_lock
from apps.common.queues import cluster_for
from apps.common.retriability import (
    GatewayError,
    Retriability,
    RetryableTaskError,
    UnexpectedTaskError,
)
from apps.common.schedules import ScheduleSpec, upsert_all
from apps.common.security import TaskInputError, safe_error, validate_id, validate_str
from apps.provisioning import jobs
from apps.provisioning.gateway import VirtualminGateway
from apps.provisioning.models import HostingService, ProvisioningJob, VirtualminServer

logger = logging.getLogger(__name__)

Operation = ProvisioningJob.Operation

# Task timeouts: below jobs.LEASE_SECONDS (300), itself below Q_CLUSTER["retry"] (600), so a
# running task is never redelivered and a live worker never loses its lease.
PROVISION_TIMEOUT = 240
SUSPEND_TIMEOUT = 120
DELETE_TIMEOUT = 240
RETRY_JOB_TIMEOUT = 240
HEALTH_CHECK_TIMEOUT = 120
RETRY_SWEEP_TIMEOUT = 120
UNHEALTHY_AFTER_FAILURES = 3

_RESULT_STATUS = {
    Operation.CREATE: HostingService.Status.ACTIVE,
    Operation.SUSPEND: HostingService.Status.SUSPENDED,
    Operation.UNSUSPEND: HostingService.Status.ACTIVE,
    Operation.DELETE: HostingService.Status.DELETED,
}


# -- the work -----------------------------------------------------------------------------------
def _apply(operation: str, gateway: VirtualminGateway, service: HostingService) -> str:
    """Reconcile, then mutate only if needed. Returns what was done ("created", "adopted", ...)."""
    domain = service.domain
    current = gateway.get_domain(domain)
    if operation == Operation.CREATE:
        if current is not None:
            if current.username != service.username:
                raise GatewayError(
                    f"{domain} already exists on the server for another user",
                    Retriability.NOT_RETRIABLE,
                )
            return "adopted"
        gateway.create_domain(domain, service.username, secrets.token_urlsafe(18), service.template)
        return "created"
    if current is None:
        if operation == Operation.DELETE:
            return "already_absent"
        raise GatewayError(f"Virtual server {domain} does not exist", Retriability.NOT_RETRIABLE)
    if operation == Operation.DELETE:
        gateway.delete_domain(domain)
        return "deleted"
    if operation == Operation.SUSPEND:
        if not current.enabled:
            return "already_disabled"
        gateway.disable_domain(domain)
        return "disabled"
    if current.enabled:
        return "already_enabled"
    gateway.enable_domain(domain)
    return "enabled"


def _run(operation: str, service_id: Any, job_id: Any, nonce: Any) -> dict[str, Any]:
    """Run the operation, then let the customer's next deferred job in (a slot may be free)."""
    try:
        return _execute(operation, service_id, job_id, nonce)
    finally:
        _release_after(service_id)


def _release_after(service_id: Any) -> None:
    """One query on every provisioning task's way out: the customer, if it has deferred jobs."""
    try:
        customer_id = (
            ProvisioningJob.objects.filter(
                status=ProvisioningJob.Status.DEFERRED,
                service__customer_id=Subquery(
                    HostingService.objects.filter(pk=int(service_id)).values("customer_id")[:1]
                ),
            )
            .values_list("service__customer_id", flat=True)
            .first()
        )
        if customer_id is not None:
            release_deferred(customer_id)
    except Exception as exc:  # the task's own outcome stands; the 15-minute sweep releases too
        logger.error(f"❌ [Provisioning] Could not release deferred jobs: {safe_error(exc)}")


def _execute(operation: str, service_id: Any, job_id: Any, nonce: Any) -> dict[str, Any]:
    """Claim the job, do the operation, record the outcome (shared by every operation)."""
    label = Operation(operation).label
    try:
        service_id = validate_id(service_id, name="service_id")
        if job_id is not None:
            job_id = validate_id(job_id, name="job_id")
            nonce = validate_str(nonce, name="nonce", max_length=32)
    except TaskInputError as exc:
        logger.error(f"❌ [Provisioning] {label}: invalid input: {exc}")
        return {"success": False, "error": str(exc)}
    service = HostingService.objects.select_related("server").filter(pk=service_id).first()
    if service is None:
        logger.error(f"❌ [Provisioning] {label}: service {service_id} does not exist")
        return {"success": False, "error": f"service {service_id} does not exist"}
    if job_id is None:  # a direct (synchronous) call: open or reuse the job here
        job = jobs.request_job(service, operation)
        job_id, nonce = job.pk, job.claim_nonce
    elif not ProvisioningJob.objects.filter(
        pk=job_id, service_id=service_id, operation=operation
    ).exists():
        logger.error(f"❌ [Provisioning] {label}: job {job_id} is not a {label} of {service_id}")
        return {"success": False, "error": f"job {job_id} does not match the request"}
    outcome = jobs.start(job_id, nonce)
    if outcome != jobs.StartOutcome.STARTED:
        job = ProvisioningJob.objects.filter(pk=job_id).first()
        done = job is not None and job.status == ProvisioningJob.Status.COMPLETED
        logger.info(f"✅ [Provisioning] {label} job {job_id} not run: {outcome}")
        return {"success": done, "job_id": job_id, "skipped": str(outcome)}

    logger.info(f"🔄 [Provisioning] {label} {service.domain} (job {job_id})")
    try:
        action = _apply(operation, VirtualminGateway(service.server), service)
    except GatewayError as exc:
        return _failed(operation, service, job_id, nonce, exc.message, exc.retriability)
    except Exception as exc:
        error = safe_error(exc)
        jobs.fail(job_id, nonce, error, Retriability.UNKNOWN)
        AuditService.log_event(
            "task.failed", f"service:{service.pk}", {"operation": operation, "error": error}
        )
        logger.exception(f"💥 [Provisioning] Unexpected error in {label} {service.domain}: {error}")
        raise UnexpectedTaskError(safe_error(exc)) from None
    if not jobs.complete(job_id, nonce):
        logger.error(f"❌ [Provisioning] {label} job {job_id}: claim lost before completion")
        return {"success": False, "job_id": job_id, "error": "claim lost (stale nonce)"}
    now = timezone.now()
    HostingService.objects.filter(pk=service.pk).update(
        status=_RESULT_STATUS[Operation(operation)], updated_at=now
    )
    AuditService.log_event(
        "task.completed",
        f"service:{service.pk}",
        {"operation": operation, "action": action, "job_id": job_id},
    )
    logger.info(f"✅ [Provisioning] {label} {service.domain} successful ({action})")
    return {"success": True, "job_id": job_id, "action": action}


def _failed(
    operation: str,
    service: HostingService,
    job_id: int,
    nonce: str,
    error: str,
    retriability: Retriability,
) -> dict[str, Any]:
    label = Operation(operation).label
    failure = jobs.fail(job_id, nonce, error, retriability)
    retry_at = failure.retry_at.isoformat() if failure.retry_at else None
    if not failure.recorded:  # another worker owns the job now: record nothing of ours
        logger.error(f"❌ [Provisioning] {label} job {job_id}: claim lost; outcome: {error}")
        return {"success": False, "job_id": job_id, "error": "claim lost (stale nonce)"}
    if failure.terminal and operation == Operation.CREATE:
        HostingService.objects.filter(pk=service.pk).update(
            status=HostingService.Status.FAILED, updated_at=timezone.now()
        )
    details = {"error": error, "retriability": str(retriability), "next_retry_at": retry_at}
    AuditService.log_event(
        "task.failed",
        f"service:{service.pk}",
        {"operation": operation, "job_id": job_id, **details},
    )
    logger.error(f"❌ [Provisioning] {label} {service.domain} failed ({retriability}): {error}")
    if retriability == Retriability.RETRIABLE and not failure.terminal:
        raise RetryableTaskError(error)
    return {"success": False, "job_id": job_id, **details}


# -- the four operations and their async wrappers ------------------------------------------------
def provision_virtualmin_account(
    service_id: int, job_id: int | None = None, nonce: str | None = None
) -> dict[str, Any]:
    """Create the service's virtual server (reconciles first; safe to redeliver)."""
    return _run(Operation.CREATE, service_id, job_id, nonce)


def suspend_virtualmin_account(
    service_id: int, job_id: int | None = None, nonce: str | None = None
) -> dict[str, Any]:
    """Disable the service's virtual server."""
    return _run(Operation.SUSPEND, service_id, job_id, nonce)


def unsuspend_virtualmin_account(
    service_id: int, job_id: int | None = None, nonce: str | None = None
) -> dict[str, Any]:
    """Re-enable the service's virtual server."""
    return _run(Operation.UNSUSPEND, service_id, job_id, nonce)


def delete_virtualmin_account(
    service_id: int, job_id: int | None = None, nonce: str | None = None
) -> dict[str, Any]:
    """Delete the service's virtual server."""
    return _run(Operation.DELETE, service_id, job_id, nonce)


def tenant_group(customer_id: int) -> str:
    """The django-q2 ``group`` of a customer's provisioning tasks: the admin lists them
    together, and the harness measures each customer's queue wait by it."""
    return f"customer-{customer_id}"


# One enqueue per operation, each a literal async_task call (tests/apps/test_call_sites.py
# checks every call site's function path and arguments statically).
def _enqueue_create(job: ProvisioningJob, service: HostingService) -> str:
    return async_task(
        "apps.provisioning.virtualmin_tasks.provision_virtualmin_account",
        service.pk,
        job_id=job.pk,
        nonce=job.claim_nonce,
        timeout=PROVISION_TIMEOUT,
        cluster=cluster_for("provisioning"),
        group=tenant_group(service.customer_id),
    )


def _enqueue_suspend(job: ProvisioningJob, service: HostingService) -> str:
    return async_task(
        "apps.provisioning.virtualmin_tasks.suspend_virtualmin_account",
        service.pk,
        job_id=job.pk,
        nonce=job.claim_nonce,
        timeout=SUSPEND_TIMEOUT,
        cluster=cluster_for("provisioning"),
        group=tenant_group(service.customer_id),
    )


def _enqueue_unsuspend(job: ProvisioningJob, service: HostingService) -> str:
    return async_task(
        "apps.provisioning.virtualmin_tasks.unsuspend_virtualmin_account",
        service.pk,
        job_id=job.pk,
        nonce=job.claim_nonce,
        timeout=SUSPEND_TIMEOUT,
        cluster=cluster_for("provisioning"),
        group=tenant_group(service.customer_id),
    )


def _enqueue_delete(job: ProvisioningJob, service: HostingService) -> str:
    return async_task(
        "apps.provisioning.virtualmin_tasks.delete_virtualmin_account",
        service.pk,
        job_id=job.pk,
        nonce=job.claim_nonce,
        timeout=DELETE_TIMEOUT,
        cluster=cluster_for("provisioning"),
        group=tenant_group(service.customer_id),
    )


_ENQUEUE = {
    Operation.CREATE: _enqueue_create,
    Operation.SUSPEND: _enqueue_suspend,
    Operation.UNSUSPEND: _enqueue_unsuspend,
    Operation.DELETE: _enqueue_delete,
}


def _enqueue(job: ProvisioningJob, service: HostingService) -> str:
    return _ENQUEUE[Operation(job.operation)](job, service)


def _queue_once(service_id: int, operation: str) -> str:
    """Open (or reuse) the job and enqueue its message in the same transaction, once.

    A second request while the job is open returns the first message's task id. A customer
    with ``PRAHO_TENANT_MAX_INFLIGHT`` jobs in flight gets a ``deferred`` job instead (no
    message yet, task id ""): :func:`release_deferred` enqueues it when a slot frees.
    """
    with transaction.atomic():
        service = HostingService.objects.get(pk=validate_id(service_id, name="service_id"))
        job = jobs.request_job(service, operation)
        if job.status != ProvisioningJob.Status.PENDING or job.task_id:
            return job.task_id
        if jobs.must_defer(service.customer_id):
            jobs.defer(job.pk)
            logger.info(f"✅ [Provisioning] Job {job.pk} deferred: customer at its in-flight cap")
            return ""
        task_id = _enqueue(job, service)
        ProvisioningJob.objects.filter(pk=job.pk).update(task_id=task_id)
        return task_id


def _group_of_job(job_id: int) -> str:
    rows = ProvisioningJob.objects.filter(pk=job_id)
    customer_id = rows.values_list("service__customer_id", flat=True).first()
    return tenant_group(customer_id or 0)


def release_deferred(customer_id: int) -> int:
    """Enqueue the customer's deferred jobs that fit under the cap now (oldest first)."""
    released = 0
    with transaction.atomic():
        jobs.must_defer(customer_id)  # locks the customer row: one releaser at a time
        for job in jobs.take_deferred(customer_id):
            service = HostingService.objects.get(pk=job.service_id)
            task_id = _enqueue(job, service)
            ProvisioningJob.objects.filter(pk=job.pk).update(task_id=task_id)
            released += 1
    return released


def provision_virtualmin_account_async(service_id: int) -> str:
    """Queue account creation."""
    return _queue_once(service_id, Operation.CREATE)


def suspend_virtualmin_account_async(service_id: int) -> str:
    """Queue suspension (billing calls this after the last failed payment)."""
    return _queue_once(service_id, Operation.SUSPEND)


def unsuspend_virtualmin_account_async(service_id: int) -> str:
    """Queue re-enabling."""
    return _queue_once(service_id, Operation.UNSUSPEND)


def delete_virtualmin_account_async(service_id: int) -> str:
    """Queue deletion."""
    return _queue_once(service_id, Operation.DELETE)


def retry_virtualmin_job(job_id: int, nonce: str) -> dict[str, Any]:
    """Run a job re-dispatched by :func:`process_failed_virtualmin_jobs`."""
    try:
        job_id = validate_id(job_id, name="job_id")
    except TaskInputError as exc:
        return {"success": False, "error": str(exc)}
    job = ProvisioningJob.objects.filter(pk=job_id).first()
    if job is None:
        return {"success": False, "error": f"job {job_id} does not exist"}
    return _run(job.operation, job.service_id, job_id, nonce)


# -- scheduled ----------------------------------------------------------------------------------
def health_check_virtualmin_servers() -> dict[str, Any]:
    """Probe every active server with ``info`` (hourly); returns healthy/unhealthy counts."""
    with distributed_lock("virtualmin-health-check", HEALTH_CHECK_TIMEOUT + 60) as acquired:
        if not acquired:
            logger.info("✅ [Provisioning] Health check already running, skipping")
            return {"success": True, "message": "Already running"}
        logger.info("🔄 [Provisioning] Checking Virtualmin servers")
        healthy = unhealthy = 0
        now = timezone.now()
        for server in VirtualminServer.objects.filter(is_active=True).order_by("pk"):
            try:
                VirtualminGateway(server).info()
            except GatewayError as exc:
                failures = server.consecutive_failures + 1
                is_healthy = failures < UNHEALTHY_AFTER_FAILURES
                VirtualminServer.objects.filter(pk=server.pk).update(
                    consecutive_failures=failures,
                    is_healthy=is_healthy,
                    last_health_check=now,
                    last_health_error=exc.message,
                )
                logger.error(f"❌ [Provisioning] Server {server.name} check failed: {exc.message}")
                unhealthy += 0 if is_healthy else 1
                healthy += 1 if is_healthy else 0
                continue
            VirtualminServer.objects.filter(pk=server.pk).update(
                consecutive_failures=0, is_healthy=True, last_health_check=now, last_health_error=""
            )
            healthy += 1
        result = {"success": True, "healthy_servers": healthy, "unhealthy_servers": unhealthy}
        AuditService.log_event("task.completed", "virtualmin-health-check", result)
        logger.info(f"✅ [Provisioning] Health check: {healthy} healthy, {unhealthy} unhealthy")
        return result


def process_failed_virtualmin_jobs() -> dict[str, Any]:
    """Re-dispatch due failed jobs (every 15 minutes); recover jobs whose worker died."""
    with distributed_lock("virtualmin-retry-failed-jobs", RETRY_SWEEP_TIMEOUT + 60) as acquired:
        if not acquired:
            logger.info("✅ [Provisioning] Retry sweep already running, skipping")
            return {"success": True, "message": "Already running"}
        logger.info("🔄 [Provisioning] Processing failed Virtualmin jobs")
        recovered = jobs.recover_lost()
        exhausted = jobs.terminalize_exhausted()
        dispatched = 0
        for job_id in jobs.due_for_retry():
            nonce = jobs.claim_for_retry(job_id)
            if nonce is None:
                continue
            try:
                with transaction.atomic():
                    task_id = async_task(
                        "apps.provisioning.virtualmin_tasks.retry_virtualmin_job",
                        job_id,
                        nonce,
                        timeout=RETRY_JOB_TIMEOUT,
                        cluster=cluster_for("provisioning"),
                        group=_group_of_job(job_id),
                    )
                    ProvisioningJob.objects.filter(pk=job_id).update(task_id=task_id)
            except Exception as exc:
                jobs.release_after_enqueue_failure(job_id, nonce)
                logger.error(f"❌ [Provisioning] Could not enqueue job {job_id}: {safe_error(exc)}")
                continue
            dispatched += 1
        released = sum(release_deferred(c) for c in jobs.customers_with_deferred())
        result = {
            "success": True,
            "recovered": recovered,
            "exhausted": exhausted,
            "dispatched": dispatched,
        }
        if released:
            result["released"] = released
        AuditService.log_event("task.completed", "virtualmin-retry-failed-jobs", result)
        logger.info(f"✅ [Provisioning] Retry sweep: {result}")
        return result


def virtualmin_schedule_specs() -> dict[str, ScheduleSpec]:
    cluster = cluster_for("provisioning")
    return {
        "health_check": ScheduleSpec(
            name="virtualmin-health-check",
            func="apps.provisioning.virtualmin_tasks.health_check_virtualmin_servers",
            schedule_type=Schedule.HOURLY,
            cluster=cluster,
        ),
        "retry_failed_jobs": ScheduleSpec(
            name="virtualmin-retry-failed-jobs",
            func="apps.provisioning.virtualmin_tasks.process_failed_virtualmin_jobs",
            schedule_type=Schedule.MINUTES,
            minutes=15,
            cluster=cluster,
        ),
    }


def setup_virtualmin_scheduled_tasks() -> dict[str, str]:
    """Set up the Virtualmin schedules (idempotent upsert by name)."""
    return upsert_all(virtualmin_schedule_specs())
