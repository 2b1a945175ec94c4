"""What task bodies do besides returning: virtual sleep, kept log records, runaway chains."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django_q.tasks import async_task

from harness import ClusterSpec, Durations, RunawayBudget, Simulation

pytestmark = pytest.mark.django_db(transaction=True)

S = "tests.harness.sample_tasks."


def _gap(sim: Simulation, tid: str) -> float:
    started = sim.timeline.of("task.started", task=tid)[0].at
    finished = sim.timeline.of("task.finished", task=tid)[0].at
    return (finished - started).total_seconds()


@pytest.mark.qsim(clusters=[ClusterSpec(retry=600, timeout=60)], durations=Durations(default=1))
def test_a_sleeping_body_takes_its_sleeps_in_virtual_time_not_wall_time(qsim: Simulation) -> None:
    tid = async_task(S + "backoff", 3, 0.5)
    wall = time.perf_counter()
    qsim.advance(minutes=1)
    assert time.perf_counter() - wall < 1.0  # 3.5 s of sleeps, none of them real
    slept = qsim.timeline.of("task.slept", task=tid)
    assert [(e.data["seconds"], e.data["calls"]) for e in slept] == [(3.5, 3)]
    assert _gap(qsim, tid) == pytest.approx(1 + 3.5)  # configured 1 s + what it slept


@pytest.mark.qsim(clusters=[ClusterSpec(retry=600, timeout=300)])
def test_the_body_sees_its_own_time_move_on_and_the_driver_puts_it_back(qsim: Simulation) -> None:
    from django.utils import timezone

    start = qsim.now()
    tid = async_task(S + "now_after_sleep", 90)
    qsim.advance(minutes=2)
    before, after = qsim.timeline.of("task.finished", task=tid)[0].data["returned"]
    seen = dt.datetime.fromisoformat(after) - dt.datetime.fromisoformat(before)
    assert seen == dt.timedelta(seconds=90)
    assert timezone.now() == qsim.now()  # the view went back to the simulation's instant
    assert qsim.now() - start == dt.timedelta(minutes=2)
    assert _gap(qsim, tid) == 90


@pytest.mark.qsim(clusters=[ClusterSpec(retry=600, timeout=60)])
def test_a_monotonic_deadline_loop_ends_after_its_virtual_seconds(qsim: Simulation) -> None:
    tid = async_task(S + "wait_for", 30, 1)
    wall = time.perf_counter()
    qsim.advance(minutes=1)
    assert time.perf_counter() - wall < 2.0
    assert qsim.timeline.of("task.finished", task=tid)[0].data["returned"] == 30


@pytest.mark.qsim(clusters=[ClusterSpec(retry=600, timeout=5, max_attempts=1)])
def test_sleeps_count_against_the_timeout(qsim: Simulation) -> None:
    tid = async_task(S + "backoff", 4, 1)  # 1 + 2 + 4 + 8 = 15 s > timeout 5 s
    qsim.advance(minutes=1)
    finished = qsim.timeline.of("task.finished", task=tid)[0]
    assert finished.data["outcome"] == "timeout"
    assert _gap(qsim, tid) == 5


@pytest.mark.qsim(clusters=[ClusterSpec(retry=10, timeout=60, workers=2)])
def test_sleeps_longer_than_retry_make_the_broker_redeliver(qsim: Simulation) -> None:
    tid = async_task(S + "backoff", 3, 4)  # 4 + 8 + 16 = 28 s > retry 10 s: a second run
    qsim.advance(minutes=1)
    attempts = [e.data["attempt"] for e in qsim.timeline.of("task.started", task=tid)]
    assert attempts[:2] == [1, 2]


def test_other_threads_sleep_for_real() -> None:
    import threading

    from harness.sim.scopes import CallObserver

    observer = CallObserver(lambda offset: None)
    observer.install()
    try:
        took: list[float] = []

        def other() -> None:
            t = time.perf_counter()
            time.sleep(0.2)
            took.append(time.perf_counter() - t)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        t = time.perf_counter()
        time.sleep(5)  # the observer's own thread: virtual
        assert time.perf_counter() - t < 0.5
        assert took[0] >= 0.19
    finally:
        observer.uninstall()
    assert time.sleep is not observer._sleep


@pytest.mark.qsim(clusters=[ClusterSpec(retry=600, timeout=60)])
def test_records_a_body_logs_are_kept_with_the_task_and_its_result(qsim: Simulation) -> None:
    tid = async_task(S + "swallow", 7)
    qsim.advance(seconds=5)
    logged = qsim.timeline.of("task.logged", task=tid)[0].data
    assert logged["counts"] == {"ERROR": 1}
    assert logged["records"] == [
        [
            "ERROR",
            "myproject.billing",
            "auto-renewal failed: Cannot resolve keyword 'renewal' for customer 7",
        ]
    ]
    finished = qsim.timeline.of("task.finished", task=tid)[0].data
    assert finished["outcome"] == "ok"  # django-q2 counts it a success
    assert finished["returned"]["success"] is False


@pytest.mark.qsim(
    clusters=[ClusterSpec(retry=600, timeout=60)], runaway=RunawayBudget(max_chain=50)
)
def test_a_task_that_enqueues_itself_without_end_is_a_runaway(qsim: Simulation) -> None:
    from harness.sim.simulation import SimulationError

    async_task(S + "requeue", 0)
    wall = time.perf_counter()
    with pytest.raises(SimulationError, match=r"runaway") as caught:
        qsim.advance(minutes=1)
    assert time.perf_counter() - wall < 10
    finding = qsim.stopped
    assert finding is not None and finding["runaway"] == "chain"
    assert finding["depth"] == 51
    assert "[tests.harness.sample_tasks.requeue] repeated" in finding["chain"]
    assert "requeue" in str(caught.value)
    assert qsim.timeline.events[-1].kind == "run.stopped"
    assert qsim.now() - qsim.start < dt.timedelta(seconds=1)  # the clock never moved on
