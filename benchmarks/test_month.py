"""The month row: ``month-in-production`` replayed accelerated and faithful, and its sync floor.

* ``accelerated``: ``harness replay month-in-production`` as a user runs it (the default), every
  execution captured for the floor;
* ``faithful``: ``--faithful``, django-q2's own code everywhere; its timeline must equal the
  accelerated one byte for byte (asserted here as in ``tests/harness/test_accelerations.py``);
* ``sync floor``: the same executions run inline under the same clock and fakes, with no broker,
  scheduler or monitor (:mod:`benchmarks.syncfloor`); the replays' overhead is reported as a
  ratio to it.

Every row counts its SQL statements by who issued them (project, django-q2, driver:
:func:`harness.infra.workcount.statement_origins`); the floor row carries the harness's own
statements per execution: the accelerated replay's minus the floor's (``harness_statements``).

The real cluster's rate on the same ``Q_CLUSTER`` is the ``qcluster-drain`` row
``orm-w2-b10-q100-s1000`` of the same run; the summary puts them side by side
(``benchmarks.report``, "The month"). ``--bench-month-days`` (``BENCH_MONTH_DAYS``, default 30)
shortens the month; each row runs ``--bench-month-rounds`` rounds (default 1: a month is long).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from benchmarks import syncfloor
from harness.infra.workcount import Origins, statement_origins

_REAL = {"perf_counter": time.perf_counter}
SCENARIO = "month-in-production"
_SHARED: dict[str, Any] = {}  # the accelerated replay's executions and timeline, for the others


def _replay(blocker: Any, days: int, faithful: bool) -> tuple[Any, float, list[Any], Origins]:
    from harness.run import runner
    from harness.scenario import read

    scenario = read(SCENARIO)
    with blocker.unblock(), syncfloor.capturing() as executions, statement_origins() as origins:
        t0 = _REAL["perf_counter"]()
        result = runner.run(
            scenario, until=scenario.start + timedelta(days=days), faithful=faithful
        )
        wall = _REAL["perf_counter"]() - t0
    assert result.ok, result.explain()
    return result, wall, list(executions), origins


def _statements(origins: Origins, executions: int) -> dict[str, Any]:
    """Statements per execution, split by who issued them (``extra_info["statements"]``)."""
    return {"total": round(origins.total / executions, 3), **origins.per(executions)}


@pytest.mark.benchmark(group="month")
@pytest.mark.parametrize("mode", ["accelerated", "faithful"])
def test_month(benchmark, bench_opts, django_db_blocker, mode: str) -> None:
    days = bench_opts.month_days
    walls: list[float] = []
    counted: list[dict[str, Any]] = []

    def run() -> None:
        result, wall, executions, origins = _replay(
            django_db_blocker, days, faithful=mode == "faithful"
        )
        walls.append(wall)
        counted.append(_statements(origins, len(executions)))
        timeline = result.timeline.dumps()
        if mode == "accelerated":
            _SHARED.update(executions=executions, timeline=timeline, result=result)
            _SHARED["accelerated_statements"] = counted[-1]
        elif "timeline" in _SHARED:
            assert timeline == _SHARED["timeline"], "faithful and accelerated timelines differ"
        _SHARED[f"{mode}_runs"] = len(executions)

    benchmark.pedantic(run, rounds=bench_opts.month_rounds, iterations=1)
    runs = _SHARED[f"{mode}_runs"]
    median = sorted(walls)[len(walls) // 2]
    _SHARED[f"{mode}_wall"] = median
    benchmark.extra_info.update(
        group="month",
        tasks=runs,
        config=f"{SCENARIO}, {days} days, {mode}",
        simulated_seconds=days * 86400,
        compression=round(days * 86400 / median),
        month_mode=mode,
        statements=counted[-1],
    )


@pytest.mark.benchmark(group="month")
def test_month_sync_floor(benchmark, bench_opts, django_db_blocker) -> None:
    from harness.scenario import read

    if "executions" not in _SHARED:  # run alone (-k): capture first, untimed
        result, wall, executions, origins = _replay(django_db_blocker, bench_opts.month_days, False)
        _SHARED.update(executions=executions, result=result, accelerated_wall=wall)
        _SHARED["accelerated_statements"] = _statements(origins, len(executions))
    executions = _SHARED["executions"]
    scenario = read(SCENARIO)
    seed = _SHARED["result"].seed
    floors: list[syncfloor.FloorResult] = []
    counted: list[dict[str, Any]] = []

    def run() -> None:
        with django_db_blocker.unblock(), statement_origins() as origins:
            floors.append(syncfloor.run_inline(scenario, seed, executions))
        counted.append(_statements(origins, len(executions)))

    benchmark.pedantic(run, rounds=bench_opts.month_rounds, iterations=1)
    floor = sorted(floors, key=lambda f: f.wall_s)[len(floors) // 2]
    replay_failed = sum(row["failed"] for row in _SHARED["result"].stats.values())
    benchmark.extra_info.update(
        group="month",
        tasks=len(executions),
        config=f"{SCENARIO}, {bench_opts.month_days} days, sync floor (bodies inline)",
        month_mode="floor",
        floor_bodies_s=round(floor.bodies_s, 3),
        floor_loads=floor.loads,
        floor_failed=floor.failed,
        floor_errors=floor.errors,
        replay_failed=replay_failed,
        statements=counted[-1],
        harness_statements=round(
            _SHARED["accelerated_statements"]["total"] - counted[-1]["total"], 3
        ),
        overhead_accelerated=round(_SHARED["accelerated_wall"] / floor.wall_s, 2),
        overhead_faithful=round(_SHARED["faithful_wall"] / floor.wall_s, 2)
        if "faithful_wall" in _SHARED
        else None,
    )
