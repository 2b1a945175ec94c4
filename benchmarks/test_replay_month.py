"""The shipped ``month-in-production`` scenario, replayed by the scenario runner.

Its first two simulated days (the whole month is ``benchmarks/test_month.py``): a fresh
database, the platform's setup, orders, invoices, fakes, the driver and every checker — the
speed a user of ``harness replay`` sees — and the counted work of one more round (SQL
statements, rows, Python calls per execution), which ``make bench-compare`` gates on.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

_REAL = {"perf_counter": time.perf_counter}
DAYS = 2


@pytest.mark.benchmark(group="replay-month")
def test_replay_month_in_production(benchmark, bench_opts, run_scenario) -> None:
    from harness.scenario import read

    scenario = read("month-in-production")
    until = scenario.start + timedelta(days=DAYS)
    results: list[tuple[int, float]] = []

    def run() -> None:
        t0 = _REAL["perf_counter"]()
        result = run_scenario(scenario, until=until)
        wall = _REAL["perf_counter"]() - t0
        assert result.ok, result.explain()
        results.append((sum(row["runs"] for row in result.stats.values()), wall))

    benchmark.pedantic(run, rounds=bench_opts.rounds, iterations=1)
    runs = results[0][0]
    assert all(r == runs for r, _ in results)
    walls = sorted(w for _, w in results)
    benchmark.extra_info.update(
        group="replay-month",
        tasks=runs,
        config=f"month-in-production, first {DAYS} days (runner, fakes, checkers)",
        simulated_seconds=DAYS * 86400,
        compression=round(DAYS * 86400 / walls[len(walls) // 2]),
        rounds_tasks_per_s=[round(runs / w, 1) for _, w in results],
    )
    bench_opts.count(benchmark, run, runs)
