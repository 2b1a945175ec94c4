"""Per-customer isolation: a customer's provisioning jobs beyond the in-flight cap wait as
``deferred`` and are released, oldest first, as earlier ones end."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from apps.provisioning import jobs, virtualmin_tasks
from apps.provisioning.models import HostingService, ProvisioningJob
from tests.apps.conftest import run_queued

Status = ProvisioningJob.Status


def _services(customer: Any, server: Any, n: int) -> list[HostingService]:
    now = timezone.now()
    return [
        HostingService.objects.create(
            customer=customer,
            server=server,
            domain=f"site{i}.ro",
            username=f"site{i}",
            created_at=now,
            updated_at=now,
        )
        for i in range(n)
    ]


@pytest.mark.django_db
def test_over_the_cap_jobs_are_deferred_without_a_message(settings, customer, server):
    settings.PRAHO_TENANT_MAX_INFLIGHT = 2
    services = _services(customer, server, 4)
    ids = [virtualmin_tasks.provision_virtualmin_account_async(s.pk) for s in services]
    assert all(ids[:2]) and ids[2:] == ["", ""]
    assert [j.status for j in ProvisioningJob.objects.order_by("pk")] == [
        Status.PENDING, Status.PENDING, Status.DEFERRED, Status.DEFERRED,
    ]  # fmt: skip
    assert jobs.in_flight(customer.pk) == 2
    # asking again for a deferred job returns it (still no message), never a second job
    assert virtualmin_tasks.provision_virtualmin_account_async(services[3].pk) == ""
    assert ProvisioningJob.objects.count() == 4
    # a deferred job is not "pending and never started": the stuck-job recovery leaves it
    later = timezone.now() + timezone.timedelta(hours=2)
    jobs.recover_lost(later)
    assert ProvisioningJob.objects.filter(status=Status.DEFERRED).count() == 2


@pytest.mark.django_db
def test_without_a_cap_nothing_is_deferred(settings, customer, server):
    settings.PRAHO_TENANT_MAX_INFLIGHT = 0
    ids = [
        virtualmin_tasks.provision_virtualmin_account_async(s.pk)
        for s in _services(customer, server, 7)
    ]
    assert all(ids) and not ProvisioningJob.objects.filter(status=Status.DEFERRED).exists()


@pytest.mark.django_db(transaction=True)
def test_finished_jobs_release_the_next_deferred_ones_in_order(
    settings, virtualmin, customer, server
):
    settings.PRAHO_TENANT_MAX_INFLIGHT = 2
    services = _services(customer, server, 5)
    for s in services:
        virtualmin_tasks.provision_virtualmin_account_async(s.pk)
    from django_q.models import OrmQ

    groups = {row.task["group"] for row in OrmQ.objects.all()}
    assert groups == {f"customer-{customer.pk}"}  # the tenant key the harness measures by

    done = run_queued()  # each finished job lets the next deferred one in
    assert [d["success"] for d in done] == [True] * 5
    finished = ProvisioningJob.objects.order_by("finished_at", "pk").values_list(
        "service_id", flat=True
    )
    assert list(finished) == [s.pk for s in services]
    assert not ProvisioningJob.objects.exclude(status=Status.COMPLETED).exists()


@pytest.mark.django_db
def test_the_retry_sweep_releases_deferred_jobs_too(settings, customer, server):
    settings.PRAHO_TENANT_MAX_INFLIGHT = 1
    first, second = _services(customer, server, 2)
    virtualmin_tasks.provision_virtualmin_account_async(first.pk)
    virtualmin_tasks.provision_virtualmin_account_async(second.pk)
    ProvisioningJob.objects.filter(service=first).update(status=Status.COMPLETED)
    result = virtualmin_tasks.process_failed_virtualmin_jobs()
    assert result["released"] == 1
    job = ProvisioningJob.objects.get(service=second)
    assert job.status == Status.PENDING and job.task_id
