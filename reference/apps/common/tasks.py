"""Common tasks: database maintenance (the seed's ``cleanup_old_tasks``)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django_q.models import Schedule, Task
from django_q.tasks import async_task

from apps.common.audit import AuditService
from apps.common.models import TaskRun
from apps.common.queues import cluster_for
from apps.common.schedules import ScheduleSpec, upsert_all
from apps.common.security import validate_id

logger = logging.getLogger(__name__)

CLEANUP_TIMEOUT = 120


def cleanup_old_tasks(days: int = 30) -> dict[str, Any]:
    """Remove task results older than ``days`` days (default 30)."""
    days = validate_id(days, name="days")
    logger.info(f"🔄 [Common] Removing task results older than {days} days")
    cutoff = timezone.now() - timedelta(days=days)
    deleted = Task.objects.filter(stopped__lt=cutoff).delete()
    TaskRun.objects.filter(stopped_at__lt=cutoff).delete()  # the metrics' rows age out too
    AuditService.log_event("task.completed", "cleanup_old_tasks", {"deleted_tasks": deleted[0]})
    logger.info(f"✅ [Common] Removed {deleted[0]} old task results")
    return {"success": True, "deleted_tasks": deleted[0]}


def cleanup_old_tasks_async(days: int = 30) -> str:
    """Queue :func:`cleanup_old_tasks`."""
    return async_task(
        "apps.common.tasks.cleanup_old_tasks",
        days,
        timeout=CLEANUP_TIMEOUT,
        cluster=cluster_for("bulk"),
    )


def common_schedule_specs() -> dict[str, ScheduleSpec]:
    return {
        "cleanup": ScheduleSpec(
            name="common-cleanup-old-tasks",
            func="apps.common.tasks.cleanup_old_tasks",
            schedule_type=Schedule.DAILY,
            at="04:00",
            cluster=cluster_for("bulk"),
        ),
    }


def setup_common_scheduled_tasks() -> dict[str, str]:
    """Set up the common maintenance schedules (idempotent)."""
    return upsert_all(common_schedule_specs())
