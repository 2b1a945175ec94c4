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


def _prune_run(faithful: bool, durations: dict[str, float]) -> tuple[str, dict, object]:
    """Eight successes at save_limit 3 (each a different task, so each a new row), then a
    project cleanup deleting one Success row behind the monitor's back, then four more."""
    import datetime as dt

    from django_q.models import Success
    from django_q.tasks import async_task

    from harness import ClusterSpec, Durations, Simulation
    from harness.infra.freshdb import fresh_database
    from tests.scenarios.test_shipped import _django_q_rows

    with fresh_database():
        sim = Simulation(
            dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC),
            [ClusterSpec(save_limit=3, workers=4)],
            seed=11,
            faithful=faithful,
            durations=Durations(default=1.0, per_func=durations),
        )
        with sim:
            for i in range(8):
                async_task("tests.harness.sample_tasks.tick", f"t{i}")
                async_task("tests.harness.sample_tasks.add", i, 1)
                sim.advance(minutes=1)
            Success.objects.order_by("stopped").first().delete()  # not the monitor's write
            for i in range(4):
                async_task("tests.harness.sample_tasks.add", i, 2)
                sim.advance(minutes=1)
            accelerations = sim._driver.accelerations
            return sim.timeline.dumps(), _django_q_rows(), accelerations


@pytest.mark.parametrize(
    ("tick", "ties"),
    [(2.5, False), (1.0, True)],  # 1.0: tick and add stop together (pairs tie at the limit)
    ids=["distinct", "ties"],
)
def test_the_kept_prune_rows_delete_what_the_database_would(django_db_blocker, tick, ties):
    """The prune's rows read once and kept (count and oldest) delete the same rows as
    django-q2's own queries, through ties and a delete the monitor did not make."""
    durations = {"tests.harness.sample_tasks.tick": tick}
    with django_db_blocker.unblock():
        fast_timeline, fast, accelerations = _prune_run(False, durations)
        slow_timeline, slow, none = _prune_run(True, durations)
    assert none is None  # faithful: django-q2's own path everywhere
    counts = accelerations.counts
    assert fast_timeline == slow_timeline
    assert len(fast["django_q_task"]) == 3 and fast == slow
    assert counts.counted == 2  # read at the first save, and again after the foreign delete
    assert counts.oldest_known > 0  # the oldest came from the kept rows …
    assert (counts.oldest_asked > 0) is ties  # … asked only where the two oldest tie
    assert accelerations.writes.inserts == 20  # every result row, as raw SQL


def test_raw_row_writes_leave_the_rows_django_would(django_db_blocker):
    """A schedule fired every minute (its row updated by each pass) and its results saved:
    the raw UPDATEs and INSERTs leave django-q2's tables as Django's own statements do."""
    import datetime as dt

    from django_q.models import Schedule
    from django_q.tasks import schedule

    from harness import Simulation
    from harness.infra.freshdb import fresh_database
    from tests.scenarios.test_shipped import _django_q_rows

    runs = []
    with django_db_blocker.unblock():
        for faithful in (False, True):
            with fresh_database():
                sim = Simulation(
                    dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC), seed=4, faithful=faithful
                )
                with sim:
                    schedule(
                        "tests.harness.sample_tasks.tick",
                        "every-minute",
                        name="every-minute",
                        schedule_type=Schedule.MINUTES,
                        minutes=1,
                        repeats=6,
                    )
                    sim.advance(minutes=10)
                    runs.append((sim.timeline.dumps(), _django_q_rows(), sim._driver.accelerations))
    (fast_timeline, fast, writes), (slow_timeline, slow, _) = runs
    assert fast_timeline == slow_timeline and fast == slow
    assert len(fast["django_q_task"]) == 6 and fast["django_q_schedule"]
    assert writes.writes.updates == 6 and writes.writes.inserts == 6
