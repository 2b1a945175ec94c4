"""Shared models: the audit trail and cross-process locks."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One audited business event (task completed, task failed, payment declined, ...)."""

    event_type = models.CharField(max_length=100, db_index=True)
    resource_id = models.CharField(max_length=255, db_index=True)
    details = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.resource_id}"


class TaskLock(models.Model):
    """A named lease held by one owner until ``expires_at``.

    Why a table and not ``cache.add``: Django's ``DatabaseCache.add`` can grant an expired key
    to two contenders (unlocked SELECT, then UPDATE). Here acquisition is one
    ``INSERT ... ON CONFLICT DO UPDATE ... WHERE expires_at <= now`` statement, which
    PostgreSQL serialises on the primary key, so exactly one contender wins even across
    processes and machines. Expiry reads ``timezone.now()`` so a virtual clock drives it.
    """

    name = models.CharField(max_length=200, primary_key=True)
    owner = models.CharField(max_length=64)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} until {self.expires_at:%Y-%m-%d %H:%M:%S}"


class TaskRun(models.Model):
    """One finished task execution, as the cluster's monitor saw it: the seed's "Task Metrics".

    django-q2's ``Task`` row keeps the enqueue time (``started``) and the end, not when a worker
    picked the task up, and ``save_limit`` prunes it; this row keeps all three per attempt, so
    queue wait and duration are separate figures (``apps.common.metrics``).
    """

    task_id = models.CharField(max_length=32, db_index=True)
    func = models.CharField(max_length=256, db_index=True)
    queue = models.CharField(max_length=100)
    group = models.CharField(max_length=100, blank=True, default="")
    enqueued_at = models.DateTimeField()
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(db_index=True)
    success = models.BooleanField()
    attempt = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["stopped_at", "id"]

    def __str__(self) -> str:
        return f"{self.func} {'ok' if self.success else 'failed'} at {self.stopped_at:%H:%M:%S}"
