"""Accelerations are proven equal: every shipped scenario, replayed to its golden horizon with
and without them (``faithful``), gives the same timeline bytes and the same end-of-run rows in
every django-q2 table (docs/driver.md lists each acceleration and why it is equal)."""

from __future__ import annotations

import pytest

from harness.scenario import read, shipped

pytestmark = pytest.mark.dbpath


def _django_q_rows() -> dict[str, list[tuple]]:
    """Every row of every django-q2 table, in id order (raw values: pickles as stored)."""
    from django.apps import apps
    from django.db import connection

    out = {}
    for model in apps.get_app_config("django_q").get_models():
        if model._meta.proxy:
            continue
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cur:
            cur.execute(f"SELECT * FROM {table} ORDER BY 1")
            out[model._meta.db_table] = [tuple(row) for row in cur.fetchall()]
    return out


def _replay(name: str, faithful: bool) -> tuple[str, dict[str, list[tuple]]]:
    from harness.infra.freshdb import fresh_database
    from harness.run import runner

    scenario = read(name)
    until = scenario.start + scenario.gate_until if scenario.gate_until else None
    runner.ensure_django(None, scenario)
    with fresh_database():
        result = runner.replay_here(scenario, until=until, faithful=faithful)
        rows = _django_q_rows()
    return result.timeline.dumps(), rows


@pytest.mark.parametrize("name", list(shipped()))
def test_accelerated_and_faithful_replays_are_identical(name, django_db_blocker):
    with django_db_blocker.unblock():
        fast_timeline, fast_rows = _replay(name, faithful=False)
        slow_timeline, slow_rows = _replay(name, faithful=True)
    assert fast_timeline == slow_timeline
    assert fast_rows.keys() == slow_rows.keys()
    for table in fast_rows:
        assert fast_rows[table] == slow_rows[table], table
    assert fast_rows["django_q_task"], "the comparison must cover saved results"


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
