"""Locks held for the virtual duration, per process (docs/driver.md, harness.sim.locks).

A charge run every 5 minutes lasts 8 minutes (tests/fixture_apps/locks.py). Production charges
each invoice 3 times in half an hour with a lock every worker shares (the runs at :05, :15 and
:25 find it held) and 6 times with a lock that lives in one process or nowhere. The harness must
tell the two apart: before, a task's body released its lock at its start instant and every
variant charged 6 times.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from harness.scenario import FakeSpec, Scenario, SetupStep

pytestmark = pytest.mark.dbpath

HERE = "tests.fixture_apps.locks"
START = dt.datetime(2026, 2, 10, 10, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Bucharest"))
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "praho_cache",
    },
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "locks"},
    "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
}


def _scenario(func: str, lock_cache: str | None = None, **fields) -> Scenario:
    return Scenario(
        name=f"locks-{func}",
        start=START,
        time_zone="Europe/Bucharest",
        duration=dt.timedelta(minutes=30),
        seed=4,
        setup=[
            SetupStep(
                call=f"{HERE}.every_five_minutes",
                kwargs={"func": func, "lock_cache": lock_cache},
            )
        ],
        cluster={"workers": 2, "timeout": 900, "retry": 1800},
        durations_per_func={f"{HERE}.{func}": 8 * 60.0},
        fakes=[
            FakeSpec(
                name="payments",
                url="{settings.STRIPE_API_BASE}",
                options={"secret_key": "{settings.STRIPE_SECRET_KEY}"},
            )
        ],
        checks=["duplicate-effects", "driver-findings"],
        **fields,
    )


def _charges(result) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in result.ledger.entries():
        if entry.effect == "charge.succeeded":
            counts[entry.business_key] = counts.get(entry.business_key, 0) + 1
    return counts


@pytest.fixture
def lock_caches(settings):
    settings.CACHES = CACHES


def test_a_shared_cache_lock_is_held_for_the_whole_run(run_scenario, lock_caches):
    result = run_scenario(_scenario("charge_open_invoices", "default"))
    assert _charges(result) == {"1": 3, "2": 3}
    assert result.verdict("driver-findings").ok


@pytest.mark.parametrize("alias", ["locmem", "dummy"])
def test_a_per_process_cache_lock_guards_nothing_and_says_so(run_scenario, lock_caches, alias):
    result = run_scenario(_scenario("charge_open_invoices", alias))
    assert _charges(result) == {"1": 6, "2": 6}
    findings = result.verdict("driver-findings")
    assert not findings.ok
    assert "lock on a per-process cache" in findings.message
    assert "charge_open_invoices" in findings.message and "charge-run" in findings.message
    assert "guards nothing across a real cluster's workers" in findings.message


def test_a_postgresql_advisory_lock_is_held_for_the_whole_run(run_scenario):
    result = run_scenario(_scenario("charge_with_advisory_lock"))
    assert _charges(result) == {"1": 3, "2": 3}
    refused = result.timeline.of("lock.refused")
    assert len(refused) == 3 and {e.data["key"] for e in refused} == {"4242"}


def test_a_registered_lock_helper_is_held_for_the_whole_run(run_scenario):
    helpers = [f"{HERE}.project_lock"]
    assert _charges(run_scenario(_scenario("charge_with_project_lock"))) == {"1": 6, "2": 6}
    result = run_scenario(_scenario("charge_with_project_lock", lock_helpers=helpers))
    assert _charges(result) == {"1": 3, "2": 3}
