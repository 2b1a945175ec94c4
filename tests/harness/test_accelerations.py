"""Accelerations are proven equal. Every shipped scenario is replayed with and without them by
``tests/scenarios/test_shipped.py`` (same timeline bytes, same rows in every django-q2 table);
here the prune is driven to its limit, and docs/driver.md is checked to list each one."""

from __future__ import annotations

import pytest

from tests.scenarios.test_shipped import _django_q_rows

pytestmark = pytest.mark.dbpath


def test_the_prune_at_its_limit_deletes_the_same_rows(django_db_blocker):
    """save_limit 5 and 30 successes (some finishing at the same instant): each save at the
    limit deletes one row, and it is the same row with and without the acceleration."""
    import datetime as dt

    from harness.infra.freshdb import fresh_database
    from harness.run import runner
    from harness.scenario import LoadSpec, Scenario

    scenario = Scenario(
        name="prune",
        start=dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC),
        duration=dt.timedelta(minutes=40),
        seed=3,
        cluster={"save_limit": 5, "workers": 3},
        loads=[
            LoadSpec(
                name="noops",
                call="tests.fixture_apps.broken_tasks.enqueue_slow",
                args=["{n}"],
                every=dt.timedelta(minutes=2),
                count=3,
            )
        ],
        checks=["lost-jobs"],
    )
    runner.ensure_django(None, scenario)
    tables = []
    for faithful in (False, True):
        with django_db_blocker.unblock(), fresh_database():
            result = runner.replay_here(scenario, faithful=faithful)
            tables.append((result.timeline.dumps(), _django_q_rows()))
    (fast_timeline, fast), (slow_timeline, slow) = tables
    assert fast_timeline == slow_timeline
    assert len(fast["django_q_task"]) == 5  # pruned down to the limit …
    assert fast == slow  # … keeping the same five rows


def test_docs_list_every_acceleration():
    """docs/driver.md's table is the list in code (a new acceleration is documented or fails)."""
    from pathlib import Path

    from harness.sim.accelerate import DESCRIPTIONS

    page = (Path(__file__).resolve().parents[2] / "docs" / "driver.md").read_text()
    section = page.split("## Accelerations, proven equal", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| the ")]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == [d[0] for d in DESCRIPTIONS]
    assert "--faithful" in page and "faithful=True" in page
