"""The admin: django_q at /admin/django_q/ and every platform model's changelist render."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/django_q/",
    "/admin/django_q/schedule/",
    "/admin/django_q/ormq/",
    "/admin/common/auditevent/",
    "/admin/common/tasklock/",
    "/admin/customers/customer/",
    "/admin/customers/notification/",
    "/admin/provisioning/virtualminserver/",
    "/admin/provisioning/hostingservice/",
    "/admin/provisioning/provisioningjob/",
    "/admin/billing/subscription/",
    "/admin/billing/invoice/",
    "/admin/billing/payment/",
    "/admin/billing/webhookevent/",
    "/admin/domains/domain/",
    "/admin/domains/renewalintent/",
]


def test_admin_pages_render(admin_client, service):
    for page in PAGES:
        assert admin_client.get(page).status_code == 200, page


def test_server_password_is_not_shown(admin_client, server):
    page = admin_client.get(f"/admin/provisioning/virtualminserver/{server.pk}/change/")
    assert page.status_code == 200
    assert server.password.encode() not in page.content


def test_provision_action_queues_the_job(admin_client, service):
    from apps.provisioning.models import ProvisioningJob

    response = admin_client.post(
        "/admin/provisioning/hostingservice/",
        {"action": "provision", "_selected_action": [service.pk]},
    )
    assert response.status_code == 302
    job = ProvisioningJob.objects.get(service=service)
    assert job.status == "pending" and job.task_id


def test_health_view_is_staff_only_and_reports_the_state(client, admin_client, service):
    from django.core.management import call_command
    from django.utils import timezone

    from apps.provisioning.models import ProvisioningJob
    from apps.provisioning.virtualmin_tasks import provision_virtualmin_account_async

    assert client.get("/ops/health/").status_code == 302  # to the admin login
    call_command("setup_all_tasks", verbosity=0)
    provision_virtualmin_account_async(service.pk)
    ProvisioningJob.objects.create(
        service=service,
        operation=ProvisioningJob.Operation.DELETE,
        status=ProvisioningJob.Status.FAILED,
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )
    data = admin_client.get("/ops/health/").json()
    assert len(data["schedules"]) == 7
    assert not any(s["overdue"] for s in data["schedules"])
    assert data["queues"] == {"praho-cluster": 1}
    assert data["provisioning_jobs"] == {"failed": 1, "pending": 1}
    assert data["terminal_failed_jobs"] == 1
    assert data["servers"] == [{"name": "vm1", "healthy": True, "consecutive_failures": 0}]
