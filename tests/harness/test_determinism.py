"""Same scenario + seed → byte-identical timeline: over 20 runs, and against a golden file that
every pytest-xdist worker must reproduce too."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django_q.models import Schedule
from django_q.tasks import async_task, schedule

from harness import ClusterSpec, Durations, Simulation

pytestmark = pytest.mark.django_db(transaction=True)

GOLDEN = Path(__file__).parent / "golden" / "determinism.jsonl"
START = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)


def scenario(seed: int) -> str:
    with connection.cursor() as cur:
        cur.execute("truncate django_q_ormq, django_q_task, django_q_schedule")
    clusters = [
        ClusterSpec(
            name="praho-cluster",
            workers=2,
            queue_limit=3,
            bulk=2,
            retry=120,
            max_attempts=3,
            catch_up=True,
        ),
        ClusterSpec(
            name="praho-cluster",
            workers=1,
            bulk=1,
            retry=120,
            max_attempts=3,
            phase=7.5,
            downtime=[(START + timedelta(minutes=20), START + timedelta(minutes=50))],
        ),
    ]
    durations = Durations(
        default=1.0, per_func={"tests.harness.sample_tasks.add": (5.0, 200.0)}, seed=seed
    )
    with Simulation(START, clusters, seed=seed, durations=durations) as sim:
        schedule(
            "tests.harness.sample_tasks.tick",
            "quarter",
            name="quarter",
            schedule_type=Schedule.MINUTES,
            minutes=15,
            next_run=START,
        )
        schedule(
            "tests.harness.sample_tasks.fan_out",
            3,
            name="fan",
            schedule_type=Schedule.HOURLY,
            next_run=START + timedelta(minutes=5),
        )
        for i in range(6):
            sim.at(
                START + timedelta(minutes=3 * i),
                async_task,
                "tests.harness.sample_tasks.fail"
                if i % 3 == 0
                else "tests.harness.sample_tasks.add",
                *(() if i % 3 == 0 else (i, i)),
            )
        sim.advance(minutes=45)
        return sim.timeline.dumps()


def test_twenty_runs_are_byte_identical() -> None:
    first = scenario(seed=11)
    assert first.count("\n") > 40
    assert '"kind":"task.killed"' in first or '"kind":"cluster.down"' in first
    for _ in range(19):
        assert scenario(seed=11) == first
    assert scenario(seed=12) != first  # the seed matters


def test_matches_golden_on_every_worker() -> None:
    actual = scenario(seed=11)
    if os.environ.get("HARNESS_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(actual, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8")
    from harness.record.timeline import first_divergence

    diff = first_divergence(expected.splitlines(), actual.splitlines())
    assert diff is None, (
        f"timeline diverges from {GOLDEN.name} at line {diff.line}:\n"
        f"  expected: {diff.expected}\n  actual:   {diff.actual}"
    )
