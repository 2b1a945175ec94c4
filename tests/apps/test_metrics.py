"""Task metrics (TaskRun rows from django-q2's signals), the alert rules, and ``/ops/metrics``
as Prometheus text that ``prometheus_client``'s own parser reads."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apps.common import metrics
from apps.common.models import TaskRun
from tests.apps.conftest import run_queued


def _run(func: str, wait: float, took: float, ok: bool = True, attempt: int = 1, ago: float = 60):
    stopped = timezone.now() - dt.timedelta(seconds=ago)
    started = stopped - dt.timedelta(seconds=took)
    enqueued = started - dt.timedelta(seconds=wait)
    TaskRun.objects.create(
        task_id="t", func=func, queue="praho-cluster", enqueued_at=enqueued,
        started_at=started, stopped_at=stopped, success=ok, attempt=attempt,
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_every_execution_leaves_a_taskrun_with_its_real_start():
    from django_q.tasks import async_task

    async_task("apps.common.tasks.cleanup_old_tasks", 30, group="maintenance")
    (done,) = run_queued()
    assert done["success"]
    (row,) = TaskRun.objects.all()
    assert row.func == "apps.common.tasks.cleanup_old_tasks" and row.group == "maintenance"
    assert row.enqueued_at <= row.started_at <= row.stopped_at and row.success


@pytest.mark.django_db
def test_function_metrics_percentiles_retries_and_window():
    for i in range(1, 21):
        _run("apps.billing.tasks.collect_invoice_payment", wait=i, took=i / 10)
    _run("apps.billing.tasks.collect_invoice_payment", wait=0, took=9, ok=False, attempt=2)
    _run("apps.old", wait=1, took=1, ago=3 * 86400)  # outside the 24 h window
    (m,) = metrics.function_metrics()
    d = m.as_dict()
    assert (d["runs"], d["failures"], d["retries"]) == (21, 1, 1)
    assert (d["wait_p50"], d["wait_p95"]) == (10.0, 19.0)  # retries have no queue wait of their own
    assert d["duration_p95"] == 2.0 and d["failure_rate"] == round(1 / 21, 4)


@pytest.mark.django_db
def test_alert_rules(settings):
    from django_q.models import OrmQ, Schedule

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "queue_limit": 5}
    now = timezone.now()
    Schedule.objects.create(func="apps.x", name="late-one", next_run=now - dt.timedelta(hours=1))
    Schedule.objects.create(func="apps.y", name="fine", next_run=now + dt.timedelta(hours=1))
    for ok in (True, False, False, True, True, True):
        _run("apps.flaky", wait=1, took=1, ok=ok)
    for _ in range(4):
        OrmQ.objects.create(key="praho-cluster", payload="x", lock=now - dt.timedelta(seconds=1))
    fired = {(a.rule, a.subject) for a in metrics.alerts()}
    assert fired == {
        ("schedule-overdue", "late-one"),
        ("failure-rate", "apps.flaky"),
        ("queue-near-limit", "praho-cluster"),
    }


@pytest.mark.django_db
def test_ops_metrics_is_prometheus_text_behind_a_token(client, settings):
    settings.PRAHO_METRICS_TOKEN = "scrape-me"
    _run("apps.billing.tasks.collect_invoice_payment", wait=3, took=1)
    _run("apps.billing.tasks.collect_invoice_payment", wait=5, took=2, ok=False)
    assert client.get("/ops/metrics").status_code == 401
    assert client.get("/ops/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/ops/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    func = "apps.billing.tasks.collect_invoice_payment"

    def value(family: str, **labels: str) -> float:
        (s,) = [
            s
            for s in families[family].samples
            if all(s.labels.get(k) == v for k, v in labels.items())
        ]
        return s.value

    assert value("praho_task_runs_24h", func=func) == 2
    assert value("praho_task_failures_24h", func=func) == 1
    assert value("praho_task_queue_wait_seconds", func=func, quantile="0.95") == 5.0
    assert value("praho_queue_depth", queue="praho-cluster") == 0
    assert value("praho_queue_limit", queue="praho-cluster") == 100
    assert "praho_alert" in families
