"""The seed's planned improvements, each proven by a scenario and failed by its twin.

* queue prioritization: ``priority-bulk-import`` (named clusters, ``[override_settings]``)
  keeps every billing task's wait under 3 minutes during a 2,000-task import; its twin with
  one cluster does not;
* multi-tenant isolation: ``tenant-burst`` keeps every other customer's provisioning wait under
  3 minutes while one reseller orders 500 accounts; its twin without the cap does not.

The feature scenarios themselves are replayed, checked and compared with their goldens by
``test_shipped.py``; here their golden timelines show *how* they held, and the twins are
replayed to where the difference shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from harness.record.timeline import Timeline
from harness.scenario import golden_path, locate

pytestmark = pytest.mark.dbpath
HERE = Path(__file__).parent


def _verdict(result, name):
    return next(v for v in result.verdicts if v.name == name)


def _golden(name: str) -> Timeline:
    return Timeline.loads(golden_path(locate(name)).read_text(encoding="utf-8").splitlines())


def test_priority_clusters_keep_billing_waits_bounded_and_the_twin_does_not(run_scenario):
    split = _golden("priority-bulk-import")
    clusters = {e.data["func"].rsplit(".", 1)[-1]: e.data["cluster"]
                for e in split.of("task.started")}  # fmt: skip
    assert clusters["import_legacy_customer"] == "bulk"
    assert clusters["collect_invoice_payment"] == "billing"
    assert clusters["generate_daily_invoices"] == "billing"

    twin = run_scenario(str(HERE / "priority-bulk-import-unsplit.toml"))
    assert settings.PRAHO_PRIORITY_CLUSTERS is False  # a replay's [override_settings] is undone
    metrics = _verdict(twin, "task-metrics")
    assert not metrics.ok
    assert metrics.evidence[0].startswith("apps.billing.*: max_wait")
    assert [v.name for v in twin.failed] == ["task-metrics"]


def test_the_tenant_cap_keeps_other_customers_waits_bounded_and_the_twin_does_not(run_scenario):
    capped = _golden("tenant-burst")
    reseller = [e for e in capped.of("task.enqueued") if e.data["group"] == "customer-1"]
    assert 5 <= len(reseller) < 500  # the rest are deferred, released as slots free

    twin = run_scenario(str(HERE / "tenant-burst-uncapped.toml"))
    metrics = _verdict(twin, "task-metrics")
    assert not metrics.ok and "group customer-" in metrics.evidence[0]
    flooded = [e for e in twin.timeline.of("task.enqueued") if e.data["group"] == "customer-1"]
    assert len(flooded) == 500
