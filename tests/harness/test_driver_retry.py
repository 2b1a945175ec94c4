"""Retry, redelivery and queue-bound semantics match django-q2's ORM broker."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django_q.models import Task
from django_q.tasks import async_task

from harness import ClusterSpec, Durations, Simulation
from tests.harness import sample_tasks

pytestmark = pytest.mark.django_db(transaction=True)

FAIL = "tests.harness.sample_tasks.fail"
ADD = "tests.harness.sample_tasks.add"


def _starts(sim: Simulation, func: str) -> list:
    return [e.at for e in sim.timeline.of("task.started", func=func)]


@pytest.mark.qsim(clusters=[ClusterSpec(retry=60, max_attempts=3)])
def test_failing_task_runs_max_attempts_times_retry_apart(qsim: Simulation) -> None:
    tid = async_task(FAIL)
    qsim.advance(hours=1)
    starts = _starts(qsim, FAIL)
    assert len(starts) == 3
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    assert all(60 <= g < 60.001 for g in gaps), gaps
    task = Task.objects.get(id=tid)
    assert (task.success, task.attempt_count) == (False, 3)
    assert qsim.timeline.of("task.acked", task=tid)  # save_task acks at max_attempts
    with connection.cursor() as cur:
        cur.execute("select count(*) from django_q_ormq")
        assert cur.fetchone()[0] == 0


@pytest.mark.qsim(clusters=[ClusterSpec(retry=60, max_attempts=0)])
def test_max_attempts_zero_keeps_coming_back(qsim: Simulation) -> None:
    async_task(FAIL)
    qsim.advance(hours=1)
    # Claimed at ~0 s, then every retry window for an hour: 60 executions, never acked.
    assert len(_starts(qsim, FAIL)) == 60
    assert not qsim.timeline.of("task.acked")


@pytest.mark.qsim(
    clusters=[ClusterSpec(retry=60, workers=2, timeout=300)],
    durations=Durations(per_func={ADD: 90}),
)
def test_task_running_longer_than_retry_is_executed_twice(qsim: Simulation) -> None:
    sample_tasks.CALLS.clear()
    tid = async_task(ADD, 1, 2)
    qsim.advance(minutes=5)
    starts = [e for e in qsim.timeline.of("task.started", task=tid)]
    assert [e.data["attempt"] for e in starts] == [1, 2]
    assert (starts[1].at - starts[0].at).total_seconds() == pytest.approx(60, abs=0.001)
    assert sample_tasks.CALLS["add"] == 2  # the function really ran twice
    assert qsim.stats()[ADD]["duplicates"] == 1


@pytest.mark.qsim(
    clusters=[ClusterSpec(retry=600, timeout=30)], durations=Durations(per_func={ADD: 45})
)
def test_virtual_timeout_is_recorded_like_sigalrm(qsim: Simulation) -> None:
    tid = async_task(ADD, 2, 2)
    qsim.advance(minutes=2)
    finished = qsim.timeline.of("task.finished", task=tid)
    assert [e.data["outcome"] for e in finished] == ["timeout"]
    assert (finished[0].at - qsim.timeline.of("task.started", task=tid)[0].at) == timedelta(
        seconds=30
    )
    task = Task.objects.get(id=tid)
    assert not task.success
    assert "Task exceeded maximum timeout value (30 seconds)" in task.result


@pytest.mark.parametrize("workers,queue_limit,bulk", [(2, 4, 3), (1, 1, 5), (3, 2, 1)])
def test_locked_tasks_never_exceed_queue_limit_plus_bulk_plus_workers(
    workers: int, queue_limit: int, bulk: int
) -> None:
    from datetime import UTC, datetime

    spec = ClusterSpec(workers=workers, queue_limit=queue_limit, bulk=bulk, retry=3600)
    peak = []

    def probe(sim: Simulation) -> None:
        with connection.cursor() as cur:
            cur.execute("select count(*) from django_q_ormq where lock > %s", [sim.now()])
            peak.append(cur.fetchone()[0])

    with Simulation(
        datetime(2026, 1, 1, tzinfo=UTC), [spec], durations=Durations(default=5)
    ) as sim:
        sim.probes.append(probe)
        for i in range(40):
            async_task(ADD, i, i)
        sim.advance(hours=1)
        assert len(sim.timeline.of("task.finished", outcome="ok")) == 40
    assert max(peak) <= queue_limit + bulk + workers
    assert max(peak) == min(40, queue_limit + bulk + workers)  # and the bound is reached


@pytest.mark.qsim(clusters=[ClusterSpec(retry=60, workers=1)])
def test_drain_and_recursion(qsim: Simulation) -> None:
    async_task("tests.harness.sample_tasks.fan_out", 3)
    counts = qsim.drain(with_recursion=False)
    assert counts == {"ok": 1, "failed": 0, "timeout": 0}
    assert len(qsim.all_enqueued(ADD)) == 3
    assert qsim.drain() == {"ok": 3, "failed": 0, "timeout": 0}


@pytest.mark.qsim(clusters=[ClusterSpec(retry=60)], raise_task_errors=True)
def test_task_errors_surface_in_the_test(qsim: Simulation) -> None:
    from harness import TaskFailed

    async_task(FAIL, "no coffee")
    with pytest.raises(TaskFailed, match="no coffee"):
        qsim.advance(minutes=1)
