"""The walls (apps import neither harness nor fakes) and priority-cluster routing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django_q.models import OrmQ

APPS = Path(__file__).resolve().parents[2] / "reference" / "apps"
# The dev runner is tooling (it may start the fakes); it never runs inside a worker.
TOOLING = {APPS / "common" / "management" / "commands" / "dev.py"}


def _imported(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def _harness(modules: set[str]) -> set[str]:
    return {m for m in modules if m == "harness" or m.startswith("harness.")}


def test_apps_import_neither_harness_nor_fakes():
    offenders = [
        str(path.relative_to(APPS))
        for path in sorted(APPS.rglob("*.py"))
        if path not in TOOLING and _harness(_imported(path))
    ]
    assert offenders == []
    # the exemption is still needed, and only for the fakes
    assert {m.rsplit(".", 1)[0] for m in _harness(_imported(next(iter(TOOLING))))} == {
        "harness.fakes"
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("flag", "expected"), [(False, {"praho-cluster"}), (True, {"billing"})])
def test_billing_tasks_go_to_their_cluster_when_enabled(settings, flag, expected):
    from apps.billing.tasks import collect_invoice_payment_async

    settings.PRAHO_PRIORITY_CLUSTERS = flag
    collect_invoice_payment_async(1)
    assert set(OrmQ.objects.values_list("key", flat=True)) == expected


@pytest.mark.django_db
def test_provisioning_tasks_go_to_their_cluster_when_enabled(settings, service):
    from apps.provisioning.virtualmin_tasks import provision_virtualmin_account_async

    settings.PRAHO_PRIORITY_CLUSTERS = True
    provision_virtualmin_account_async(service.pk)
    assert list(OrmQ.objects.values_list("key", flat=True)) == ["provisioning"]
