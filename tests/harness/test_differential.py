"""Differential check: the in-process driver against a real ``qcluster`` on the same database.

Both runs start from the same rows (schedules due, tasks enqueued); the multiset of executions
(func, args, attempt, success) — reconstructed the same way, from django-q2's Task table — and
the order of schedule firings must match. Each real run lasts seconds: the real cluster runs
with django-q2's own ``guard_cycle`` at 30, so Sentinel.guard (``counter += cycle``, a scheduler
pass once ``counter >= 30``) calls the scheduler on its first loop instead of after sixty
half-second cycles. The guard cycle paces nothing else these runs depend on: no task here times
out (the only other use of the cycle is the timeout countdown) and no process dies; on 1.9.0,
whose guard sleeps a whole cycle, stopping takes up to 30 s instead. The MINUTES
row runs every ten minutes, so a second pass 30 s later (a slow real run) finds nothing due.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task
from django_q.tasks import async_task

from harness import ClusterSpec, Simulation
from harness.infra.realcluster import RealCluster

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TICK = "tests.harness.sample_tasks.tick"
KNOBS = dict(
    workers=1,
    queue_limit=2,
    bulk=2,
    retry=3,
    timeout=2,
    max_attempts=3,
    catch_up=False,
    save_limit=0,
)


# With schedules, the first guard loop runs the scheduler (docstring); without, the default cycle,
# since django-q2 1.9.0's guard sleeps a whole cycle before it sees a stop (1.11 waits on an event).
REAL_KNOBS = {**KNOBS, "guard_cycle": 30}


def _reset() -> None:
    with connection.cursor() as cur:
        cur.execute("truncate django_q_ormq, django_q_task, django_q_schedule")


def _seed(now, schedules: bool) -> None:
    if schedules:
        for name, kind, ago in [
            ("every-ten-minutes", Schedule.MINUTES, 50),
            ("hourly", Schedule.HOURLY, 40),
            ("daily", Schedule.DAILY, 30),
            ("once", Schedule.ONCE, 20),
        ]:
            Schedule.objects.create(
                name=name,
                func=TICK,
                args=repr(name),
                schedule_type=kind,
                minutes=10 if kind == Schedule.MINUTES else None,  # next run after either run ends
                next_run=now - timedelta(seconds=ago),
                repeats=-1,
            )
    async_task("tests.harness.sample_tasks.add", 1, 2)
    async_task("tests.harness.sample_tasks.fail", "differential")
    for i in range(10):
        async_task("tests.harness.sample_tasks.add", i, i)


def _executions() -> Counter:
    """Every execution as (func, args, attempt, success), from the Task rows of the run."""
    out: Counter = Counter()
    for task in Task.objects.all():
        for attempt in range(1, task.attempt_count + 1):
            ok = bool(task.success) and attempt == task.attempt_count
            out[(task.func, tuple(task.args or ()), attempt, ok)] += 1
    return out


def _real_run(clusters: int, schedules: bool) -> tuple[Counter, list[str]]:
    _reset()
    _seed(timezone.now(), schedules)
    env = {"DIFF_DB_NAME": connection.settings_dict["NAME"]}
    running = [
        RealCluster(
            "tests.harness.diff_settings", REAL_KNOBS if schedules else KNOBS, env=env, cwd=REPO
        ).start()
        for _ in range(clusters)
    ]
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            fired = Task.objects.filter(func=TICK).count()
            if (not schedules or fired >= 4) and not OrmQ.objects.exists():
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"real cluster did not finish: {[c.log_tail() for c in running]}")
    finally:
        for cluster in running:
            cluster.stop()
    order = list(Task.objects.filter(func=TICK).order_by("started").values_list("group", flat=True))
    return _executions(), order


def _sim_run(clusters: int, schedules: bool) -> tuple[Counter, list[str]]:
    _reset()
    now = timezone.now()
    specs = [ClusterSpec(**KNOBS, phase=0.1 * i) for i in range(clusters)]
    with Simulation(now, specs, seed=1) as sim:
        _seed(now, schedules)
        sim.advance(seconds=45)  # the first pass at +30 s, not the second at +60 s
        order = [e.data["schedule"] for e in sim.timeline.of("schedule.fired")]
    return _executions(), order


def test_one_cluster_schedules_retries_and_queue_limit_match_the_real_thing() -> None:
    real, real_order = _real_run(1, schedules=True)
    sim, sim_order = _sim_run(1, schedules=True)
    assert real_order == ["every-ten-minutes", "hourly", "daily", "once"]
    assert sim_order == real_order
    assert sim == real
    fail = ("tests.harness.sample_tasks.fail", ("differential",))
    assert [k[2] for k in real if k[:2] == fail] == [1, 2, 3]  # max_attempts honoured by both


def test_two_clusters_on_one_queue_match_the_real_thing() -> None:
    real, _ = _real_run(2, schedules=False)
    sim, _ = _sim_run(2, schedules=False)
    assert sim == real
    assert sum(real.values()) == 14  # 11 successes + 3 failed attempts, none lost or doubled
