"""In-process replay: how fast the deterministic driver runs django-q2's own code paths.

* ``replay-drain``: the same no-op tasks and cluster knobs as ``qcluster-drain`` (the real
  cluster), enqueued at once and drained in-process — the two rates are directly comparable.
* ``replay-30-days``: a month of a schedule mix (every 15 minutes, hourly, daily, weekly, cron
  on weekdays) — task executions per wall second and time compression (simulated / wall).
* ``clock-engine``: the same two-day replay under time-machine and freezegun; the faster one is
  the default engine (``harness.sim.clock.DEFAULT_ENGINE``).

Wall time is read through a reference to ``perf_counter`` kept before any clock engine starts:
freezegun replaces ``time.perf_counter`` (and pytest-benchmark's timer with it).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
from django.db import connection

from harness import ClusterSpec, Simulation

_REAL = {"perf_counter": time.perf_counter}  # freezegun does not look inside dicts
NOOP = "benchmarks.benchproject.tasks.started_at"
START = datetime(2026, 3, 1, tzinfo=UTC)
DRAIN_SPEC = dict(workers=2, bulk=10, queue_limit=100, save_limit=0, retry=60, timeout=30)

pytestmark = pytest.mark.django_db(transaction=True)


def _truncate() -> None:
    with connection.cursor() as cur:
        cur.execute("TRUNCATE django_q_ormq, django_q_task, django_q_schedule")


def _schedule_mix(start: datetime) -> None:
    from django_q.models import Schedule
    from django_q.tasks import schedule

    first = start + timedelta(minutes=1)
    schedule(NOOP, name="quarter", schedule_type=Schedule.MINUTES, minutes=15, next_run=first)
    schedule(NOOP, name="hourly", schedule_type=Schedule.HOURLY, next_run=first)
    schedule(NOOP, name="daily", schedule_type=Schedule.DAILY, next_run=first)
    schedule(NOOP, name="weekly", schedule_type=Schedule.WEEKLY, next_run=first)
    schedule(NOOP, name="weekdays", schedule_type=Schedule.CRON, cron="0 9 * * 1-5")


class Replayed(NamedTuple):
    runs: int  # task executions
    wall: float  # seconds
    cpu: int | None  # the CPU the replay was co-located on (harness.infra.affinity), or None


def _replay(days: int, engine: str = "time-machine") -> Replayed:
    """Replay ``days`` of the schedule mix."""
    _truncate()
    spec = ClusterSpec(**DRAIN_SPEC, catch_up=False)
    with Simulation(START, [spec], seed=1, engine=engine) as sim:
        _schedule_mix(START)
        t0 = _REAL["perf_counter"]()
        sim.advance(days=days)
        wall = _REAL["perf_counter"]() - t0
        runs = sum(row["runs"] for row in sim.stats().values())
        cpu = sim.colocation.cpu if sim.colocation else None
    return Replayed(runs, wall, cpu)


@pytest.mark.benchmark(group="replay-drain")
def test_replay_drain(benchmark, bench_opts) -> None:
    from django_q.tasks import async_task

    n = bench_opts.tasks
    rates: list[float] = []
    state: dict[str, Simulation] = {}

    def setup():
        _truncate()
        sim = Simulation(START, [ClusterSpec(**DRAIN_SPEC)], seed=1).open()
        for _ in range(n):
            async_task(NOOP)
        state["sim"] = sim
        return (), {}

    def run() -> None:
        sim = state["sim"]
        try:
            t0 = _REAL["perf_counter"]()
            counts = sim.drain()
            rates.append(n / (_REAL["perf_counter"]() - t0))
        finally:
            sim.close()
        assert counts == {"ok": n, "failed": 0, "timeout": 0}

    bench_opts.measure(benchmark, run, setup)
    benchmark.extra_info.update(
        group="replay-drain",
        tasks=n,
        config="in-process w2-b10-q100-s0",
        colocated_cpu=state["sim"].colocation.cpu if state["sim"].colocation else None,
        rounds_tasks_per_s=[round(r, 1) for r in bench_opts.timed(rates)],
    )
    bench_opts.count(benchmark, run, n, setup)


@pytest.mark.benchmark(group="replay-30-days")
def test_replay_30_days(benchmark, bench_opts) -> None:
    results: list[Replayed] = []

    def run() -> None:
        results.append(_replay(30))

    benchmark.pedantic(run, rounds=bench_opts.rounds, iterations=1)
    runs = results[0].runs
    assert all(r.runs == runs for r in results)  # deterministic: every round runs the same tasks
    assert runs > 30 * (96 + 24)  # quarter-hourly + hourly alone
    walls = sorted(r.wall for r in results)
    median = walls[len(walls) // 2]
    benchmark.extra_info.update(
        group="replay-30-days",
        tasks=runs,
        config="30 days: 15-min, hourly, daily, weekly, cron",
        colocated_cpu=results[-1].cpu,
        simulated_seconds=30 * 86400,
        compression=round(30 * 86400 / median),
        rounds_tasks_per_s=[round(runs / r.wall, 1) for r in results],
    )
    bench_opts.count(benchmark, run, runs)


@pytest.mark.benchmark(group="clock-engine")
@pytest.mark.parametrize("engine", ["time-machine", "freezegun"])
def test_clock_engine(benchmark, engine: str) -> None:
    results: list[Replayed] = []

    def run() -> None:
        results.append(_replay(2, engine))

    benchmark.pedantic(run, rounds=3, iterations=1)
    runs = results[0].runs
    walls = sorted(r.wall for r in results)
    benchmark.extra_info.update(
        group="clock-engine",
        tasks=runs,
        config=f"2-day replay, {engine}",
        rounds_tasks_per_s=[round(runs / r.wall, 1) for r in results],
        median_wall_s=round(walls[1], 3),
    )
