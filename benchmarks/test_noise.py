"""The machine's own noise: a fixed pure-Python CPU loop, measured like every other benchmark.

No database, no I/O, no other process: if this row's rounds spread by 13 %, a database row that
spreads by 15 % in the same run tells nothing about the code. It is the run's calibration, read
next to the others (docs/benchmarks.md, "Stability"), and the gate checks it like any row: a
"regression" here means the machine got slower, not the code.
"""

from __future__ import annotations

import time

import pytest

UNITS = 1000  # "tasks" of the row: one unit is LOOP iterations
LOOP = 20_000


def _unit() -> int:
    total = 0
    for i in range(LOOP):
        total += i * i % 7
    return total


@pytest.mark.benchmark(group="machine-noise")
def test_cpu_calibration(benchmark, bench_opts) -> None:
    rates: list[float] = []

    def run() -> None:
        t0 = time.perf_counter()
        for _ in range(UNITS):
            _unit()
        rates.append(UNITS / (time.perf_counter() - t0))

    bench_opts.measure(benchmark, run)
    assert _unit() == sum(i * i % 7 for i in range(LOOP))  # the loop did the work it claims
    benchmark.extra_info.update(
        group="machine-noise",
        tasks=UNITS,
        config=f"pure-Python loop ({UNITS} × {LOOP:,} iterations)",
        rounds_tasks_per_s=[round(r, 1) for r in bench_opts.timed(rates)],
    )
