"""Task health as one staff-only JSON view (``GET /ops/health/``); the dashboard
(``/ops/dashboard/``, :mod:`apps.common.dashboard`) renders the same snapshot for people.

It answers what an operator asks first: are the schedules alive (next run, last result), how
deep is each queue, how many tasks failed lately, which provisioning jobs and servers need a
look. The Django admin (``/admin/django_q/``) stays the place for details.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task

from apps.provisioning.models import ProvisioningJob, VirtualminServer


def snapshot() -> dict[str, Any]:
    """The dashboard's data (also handy in a shell)."""
    now = timezone.now()
    since = now - timedelta(hours=24)
    schedules = []
    for row in Schedule.objects.order_by("name"):
        last = Task.objects.filter(group=row.name).order_by("-stopped").first()
        schedules.append(
            {
                "name": row.name,
                "func": row.func,
                "type": row.schedule_type,
                "cluster": row.cluster,
                "next_run": row.next_run,  # datetimes: JsonResponse writes ISO 8601
                "overdue": bool(row.next_run and row.next_run < now - timedelta(minutes=5)),
                "last_success": None if last is None else last.success,
                "last_stopped": last.stopped if last else None,
            }
        )
    recent = Task.objects.filter(stopped__gte=since)
    jobs = dict(
        ProvisioningJob.objects.values_list("status").annotate(n=Count("id")).order_by("status")
    )
    return {
        "time": now,
        "schedules": schedules,
        "queues": dict(OrmQ.objects.values_list("key").annotate(n=Count("id")).order_by("key")),
        "tasks_24h": {
            "succeeded": recent.filter(success=True).count(),
            "failed": recent.filter(success=False).count(),
            "failed_by_func": dict(
                recent.filter(success=False)
                .values_list("func")
                .annotate(n=Count("id"))
                .order_by("func")
            ),
        },
        "provisioning_jobs": jobs,
        "terminal_failed_jobs": ProvisioningJob.objects.filter(
            status=ProvisioningJob.Status.FAILED, next_retry_at__isnull=True
        ).count(),
        "servers": [
            {
                "name": s.name,
                "healthy": s.is_healthy,
                "consecutive_failures": s.consecutive_failures,
            }
            for s in VirtualminServer.objects.filter(is_active=True).order_by("name")
        ],
    }


@staff_member_required
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse(snapshot(), json_dumps_params={"indent": 2, "ensure_ascii": False})
