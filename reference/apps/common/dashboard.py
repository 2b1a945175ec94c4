"""The seed's "Health Check Dashboard" (``/ops/dashboard/``) and the Prometheus text of the task
metrics (``/ops/metrics``).

The dashboard is one server-rendered page for staff: alerts first, then schedules (next run,
last result, overdue), queues (depth, oldest waiting task, queue_limit), task metrics per
function, failures of the last 24 h and provisioning jobs needing attention (every stored error
sanitised as the page is rendered), the Virtualmin servers' health. No JavaScript: it reads the
same functions as ``/ops/health/`` and ``/ops/metrics`` (:mod:`apps.common.health`,
:mod:`apps.common.metrics`).

``/ops/metrics`` is built with ``prometheus_client`` (a collector that reads the database at
scrape time; no hand-written exposition format). A scraper authenticates with
``Authorization: Bearer <PRAHO_METRICS_TOKEN>``; without that setting the page is staff-only.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from apps.common import health, metrics
from apps.common.security import safe_error


def _failures(limit: int = 20) -> list[dict[str, Any]]:
    from django_q.models import Task

    since = timezone.now() - timedelta(hours=24)
    rows = Task.objects.filter(success=False, stopped__gte=since).order_by("-stopped")[:limit]
    return [
        {"func": t.func, "stopped": t.stopped, "error": safe_error(str(t.result or ""))[:300]}
        for t in rows
    ]


def _attention() -> list[dict[str, Any]]:
    """Failed and deferred jobs, their stored errors sanitised here, at render time: a row
    written before a secret was configured, by an older version or by hand is shown safe too."""
    from apps.provisioning.models import ProvisioningJob

    Status = ProvisioningJob.Status
    jobs = (
        ProvisioningJob.objects.filter(status__in=[Status.FAILED, Status.DEFERRED])
        .select_related("service")
        .order_by("status", "-updated_at")[:20]
    )
    return [{"job": j, "error": safe_error(j.last_error) if j.last_error else ""} for j in jobs]


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    snapshot = health.snapshot()
    per_func = metrics.function_metrics()
    context = {
        "now": timezone.now(),
        "alerts": metrics.alerts(per_func),
        "schedules": snapshot["schedules"],
        "queues": metrics.queues(),
        "metrics": [m.as_dict() for m in per_func],
        "failures": _failures(),
        "jobs": snapshot["provisioning_jobs"],
        "attention": _attention(),
        "servers": snapshot["servers"],
    }
    return render(request, "common/dashboard.html", context)


class _Collector:
    """Reads the metrics at scrape time (prometheus_client's custom-collector protocol)."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        per_func = metrics.function_metrics()
        func, quantile = ["func"], ["func", "quantile"]
        runs = CounterMetricFamily("praho_task_runs_24h", "Task runs ended in 24 h", labels=func)
        failed = CounterMetricFamily("praho_task_failures_24h", "Failed runs in 24 h", labels=func)
        retries = CounterMetricFamily("praho_task_retries_24h", "Retried runs in 24 h", labels=func)
        duration = GaugeMetricFamily(
            "praho_task_duration_seconds", "Run duration percentile, 24 h", labels=quantile
        )
        wait = GaugeMetricFamily(
            "praho_task_queue_wait_seconds", "Queue wait percentile, 24 h", labels=quantile
        )
        for m in per_func:
            d = m.as_dict()
            runs.add_metric([m.func], m.runs)
            failed.add_metric([m.func], m.failures)
            retries.add_metric([m.func], m.retries)
            for q in ("50", "95"):
                if d[f"duration_p{q}"] is not None:
                    duration.add_metric([m.func, f"0.{q}"], d[f"duration_p{q}"])
                if d[f"wait_p{q}"] is not None:
                    wait.add_metric([m.func, f"0.{q}"], d[f"wait_p{q}"])
        yield from (runs, failed, retries, duration, wait)
        yield from _queue_families()
        alert = GaugeMetricFamily(
            "praho_alert", "1 while an alert rule fires", labels=["rule", "subject"]
        )
        for a in metrics.alerts(per_func):
            alert.add_metric([a.rule, a.subject], 1)
        yield alert


def _queue_families() -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    now = timezone.now()
    depth = GaugeMetricFamily("praho_queue_depth", "Tasks waiting in the broker", labels=["queue"])
    oldest = GaugeMetricFamily(
        "praho_queue_oldest_wait_seconds", "Age of the oldest waiting task", labels=["queue"]
    )
    limit = GaugeMetricFamily(
        "praho_queue_limit", "The serving cluster's queue_limit", labels=["queue"]
    )
    for q in metrics.queues():
        depth.add_metric([q.queue], q.depth)
        oldest.add_metric([q.queue], (now - q.oldest).total_seconds() if q.oldest else 0.0)
        if q.limit:
            limit.add_metric([q.queue], q.limit)
    yield from (depth, oldest, limit)


def _authorised(request: HttpRequest) -> bool:
    token = getattr(settings, "PRAHO_METRICS_TOKEN", "")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[7:].encode(), token.encode())
    user = getattr(request, "user", None)
    return bool(user and user.is_active and user.is_staff)


def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    if not _authorised(request):
        return HttpResponse("authentication required\n", status=401, content_type="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
