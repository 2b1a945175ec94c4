"""The ops dashboard, loaded in headless Chromium with real data: the page a staff user sees
after a short scenario (ten orders, two injected Virtualmin 503s that fail two jobs)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.apps.dashboard_page import open_in_chromium, replay_and_render

pytestmark = pytest.mark.dbpath
TINY = Path(__file__).resolve().parents[1] / "scenarios" / "tiny.toml"


class _Rows(HTMLParser):
    """The DOM as Chromium serialised it: every element's data-* attributes, section ids, text."""

    def __init__(self) -> None:
        super().__init__()
        self.data_attrs: list[dict[str, str]] = []
        self.sections: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        found = {k: v or "" for k, v in attrs if k.startswith("data-")}
        if found:
            self.data_attrs.append(found)
        if tag == "section":
            self.sections.append(dict(attrs).get("id", ""))

    def handle_data(self, data):
        self.text.append(data)


def test_dashboard_shows_the_scenarios_data_in_chromium(django_db_blocker, tmp_path):
    with django_db_blocker.unblock():
        result, html, _ = replay_and_render(str(TINY))
    page = tmp_path / "dashboard.html"
    page.write_bytes(html)
    shot = tmp_path / "dashboard.png"
    dom = _Rows()
    dom.feed(open_in_chromium(page, screenshot=shot))
    assert shot.stat().st_size > 20_000

    assert dom.sections == [
        "alerts",
        "schedules",
        "queues",
        "metrics",
        "failures",
        "provisioning",
        "servers",
    ]
    text = " ".join(" ".join(dom.text).split())
    funcs = {a["data-func"] for a in dom.data_attrs if "data-func" in a}
    assert funcs == set(result.stats)  # one metrics row per task function that ran
    provision = "apps.provisioning.virtualmin_tasks.provision_virtualmin_account"
    stats = result.stats[provision]
    assert f"{provision} {stats['runs']} {stats['failed']} {stats['retries']}" in text
    assert {"data-server": "vm1"} in dom.data_attrs and "healthy" in text
    assert {"data-queue": "praho-cluster"} in dom.data_attrs
    failed = sum(row["failed"] for row in result.stats.values())
    assert f"Failures, last 24 h ({failed})" in text
    # the two injected 503s failed two provisioning jobs (retriable, due again): both listed
    jobs = [a["data-job"] for a in dom.data_attrs if "data-job" in a]
    assert len(jobs) == 2 and text.count("create-domain: HTTP 503: Injected error") == 2
    assert "vm-Secret-9f3k2" not in html.decode()  # errors are shown sanitised
    assert "No alert rule fires." in text


def test_dashboard_is_staff_only(client):
    response = client.get("/ops/dashboard/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_stored_errors_are_sanitised_when_the_page_is_rendered(client, service):
    """A job's ``last_error`` stored raw (by an older version, by hand, or before its secret was
    configured) is shown redacted: no server password, no bearer token, and its HTML escaped."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from apps.provisioning.models import ProvisioningJob, VirtualminServer

    VirtualminServer.objects.create(
        name="vm2", hostname="vm2.test", username="root", password="hunter2-Vm2-Pa55"
    )
    raw = (
        'create_domain: <img src=x onerror="alert(1)"> login root/hunter2-Vm2-Pa55 failed; '
        "Authorization: Bearer eyJhbGciOi.stolen.token"
    )
    now = timezone.now()
    job = ProvisioningJob.objects.create(
        service=service,
        operation=ProvisioningJob.Operation.CREATE,
        status=ProvisioningJob.Status.FAILED,
        last_error=raw,
        created_at=now,
        updated_at=now,
    )
    staff = get_user_model().objects.create_user("ops", password="x", is_staff=True)
    client.force_login(staff)
    page = client.get("/ops/dashboard/").content.decode()
    assert f'data-job="{job.pk}"' in page
    assert "hunter2-Vm2-Pa55" not in page and "eyJhbGciOi.stolen.token" not in page
    assert "<img" not in page and "&lt;img src=x" in page
    assert "login root/[REDACTED] failed" in page and "Bearer [REDACTED]" in page
