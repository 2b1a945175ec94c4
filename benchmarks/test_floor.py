"""The floors: a raw SKIP LOCKED queue, and django-q2's per-task SQL replayed raw.

See :mod:`benchmarks.floor`.
"""

from __future__ import annotations

import os
import time

import pytest

from benchmarks import benchdb, floor
from harness.infra.affinity import colocate

SQL_FLOOR_CASES = [("enqueue+drain", 0), ("drain", 0), ("drain", 1000)]
SQL_FLOOR_BULK = 10  # the reference platform's bulk


@pytest.mark.benchmark(group="floor-skip-locked")
def test_skip_locked_floor(benchmark, bench_env, bench_opts, floor_pair) -> None:
    """N consumer processes, each ``SELECT … FOR UPDATE SKIP LOCKED`` + ``DELETE`` per batch."""
    consumers, batch = floor_pair
    n = bench_opts.floor_tasks
    rates: list[float] = []
    with benchdb.connect(bench_env.db) as conn:

        def setup():
            floor.fill_jobs(conn, n)
            return (floor.ConsumerPool(bench_env.db, consumers, batch).start(),), {}

        def run(pool: floor.ConsumerPool) -> None:
            t0 = time.perf_counter()
            counts = pool.go()
            rates.append(n / (time.perf_counter() - t0))
            assert sum(counts) == n, counts

        bench_opts.measure(benchmark, run, setup)
        left = conn.execute("SELECT count(*) FROM bench_jobs").fetchone()
    assert left == (0,)
    benchmark.extra_info.update(
        group="floor-skip-locked",
        tasks=n,
        config=f"skip-locked-c{consumers}-b{batch}",
        consumers=consumers,
        batch=batch,
        rounds_tasks_per_s=[round(r, 1) for r in bench_opts.timed(rates)],
        load1=round(os.getloadavg()[0], 2),
    )


@pytest.mark.benchmark(group="floor-sql")
@pytest.mark.parametrize(
    "phase,save_limit", SQL_FLOOR_CASES, ids=[f"{p}-s{s}" for p, s in SQL_FLOOR_CASES]
)
def test_sql_floor(benchmark, bench_env, bench_opts, phase: str, save_limit: int) -> None:
    """django-q2's ORM-broker statements per task, raw psycopg, one connection, no framework.

    Co-located on one CPU with its backend, as the in-process driver is (harness.infra.affinity):
    both are one client in lock-step with one backend, so the two rates compare.
    """
    n = bench_opts.floor_tasks // 10 if save_limit > 0 else bench_opts.floor_tasks
    with_enqueue = phase == "enqueue+drain"
    rates: list[float] = []
    with benchdb.connect(bench_env.db) as conn:
        colocation = colocate(conn)

        def setup():
            floor.prepare_floor(conn, seed=save_limit)
            if not with_enqueue:
                floor.enqueue(conn, n)
            return (), {}

        def run() -> None:
            t0 = time.perf_counter()
            done = floor.replay(conn, n, SQL_FLOOR_BULK, save_limit, with_enqueue)
            rates.append(n / (time.perf_counter() - t0))
            assert done == n

        try:
            bench_opts.measure(benchmark, run, setup)
        finally:
            colocation.release()
    benchmark.extra_info.update(
        group="floor-sql",
        colocated_cpu=colocation.cpu,
        tasks=n,
        config=f"sql-{phase}-b{SQL_FLOOR_BULK}-s{save_limit}",
        bulk=SQL_FLOOR_BULK,
        save_limit=save_limit,
        rounds_tasks_per_s=[round(r, 1) for r in bench_opts.timed(rates)],
        load1=round(os.getloadavg()[0], 2),
    )
