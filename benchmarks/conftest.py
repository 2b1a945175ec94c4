"""Options and fixtures of the benchmark run (``make bench``; docs/benchmarks.md).

Options (each also an environment variable, for ``make``):

``--bench-grid`` / ``BENCH_GRID``            ``default`` (one knob at a time) or ``full``
``--bench-tasks`` / ``BENCH_TASKS``          tasks per round of the drain and floor benchmarks
``--bench-tasks-pruned`` / ``BENCH_TASKS_PRUNED``  tasks per drain round when ``save_limit > 0``
                                             (its prune makes those ~15× slower)
``--bench-floor-tasks`` / ``BENCH_FLOOR_TASKS``  tasks per floor round (a tenth when pruned):
                                             floors are fast, so bigger rounds to outlast noise
``--bench-latency-tasks`` / ``BENCH_LATENCY_TASKS``  tasks per paced latency round
``--bench-rate`` / ``BENCH_RATE``            enqueue rate of the latency rounds (tasks/s)
``--bench-rounds`` / ``BENCH_ROUNDS``        rounds per benchmark (3)
``--bench-warmup`` / ``BENCH_WARMUP``        untimed rounds first, in-process and floors (1)
``--bench-month-days`` / ``BENCH_MONTH_DAYS``  simulated days of the month rows (30)
``--bench-month-rounds`` / ``BENCH_MONTH_ROUNDS``  rounds of each month row (1)

The bench database is ``<harness database>_bench`` on the server :mod:`harness.infra.database`
resolves (``BENCH_DB_NAME`` overrides it); Redis is ``HARNESS_REDIS_URL`` or 127.0.0.1:6379/0.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from benchmarks import benchdb, grid
from benchmarks.qbench import BenchEnv

REDIS_DEFAULT = "redis://127.0.0.1:6379/0"


def _env_default(name: str, default: str) -> str:
    return os.environ.get(name) or default


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dq-harness benchmarks")
    group.addoption(
        "--bench-grid",
        default=_env_default("BENCH_GRID", "default"),
        choices=grid.GRIDS,
        help="configurations to measure",
    )
    group.addoption("--bench-tasks", type=int, default=int(_env_default("BENCH_TASKS", "1000")))
    group.addoption(
        "--bench-tasks-pruned", type=int, default=int(_env_default("BENCH_TASKS_PRUNED", "100"))
    )
    group.addoption(
        "--bench-floor-tasks", type=int, default=int(_env_default("BENCH_FLOOR_TASKS", "3000"))
    )
    group.addoption(
        "--bench-latency-tasks", type=int, default=int(_env_default("BENCH_LATENCY_TASKS", "30"))
    )
    group.addoption("--bench-rate", type=float, default=float(_env_default("BENCH_RATE", "5")))
    group.addoption("--bench-rounds", type=int, default=int(_env_default("BENCH_ROUNDS", "3")))
    group.addoption("--bench-warmup", type=int, default=int(_env_default("BENCH_WARMUP", "1")))
    group.addoption(
        "--bench-month-days", type=int, default=int(_env_default("BENCH_MONTH_DAYS", "30"))
    )
    group.addoption(
        "--bench-month-rounds", type=int, default=int(_env_default("BENCH_MONTH_ROUNDS", "1"))
    )


@dataclass(frozen=True)
class BenchOptions:
    grid: str
    tasks: int
    tasks_pruned: int
    floor_tasks: int
    latency_tasks: int
    rate: float
    rounds: int
    warmup: int
    month_days: int = 30
    month_rounds: int = 1

    def timed(self, rates: list[float]) -> list[float]:
        """The measured rounds' rates (a ``run`` also records the warm-up rounds)."""
        return rates[-self.rounds :]

    def measure(self, benchmark: Any, run: Callable[..., None], setup: Any = None) -> None:
        """``benchmark.pedantic`` with this run's rounds and warm-up rounds, one iteration each
        (every round drains a fresh backlog that ``setup`` prepares, untimed)."""
        benchmark.pedantic(
            run, setup=setup, rounds=self.rounds, warmup_rounds=self.warmup, iterations=1
        )

    @staticmethod
    def count(benchmark: Any, run: Callable[[], Any], tasks: int, setup: Any = None) -> None:
        """One more round, untimed, under the work counters (:mod:`harness.infra.workcount`):
        ``extra_info["work"]``, which ``make bench-compare`` gates on. Call it after the timed
        rounds, so caches are warm and the profiler's cost stays out of the timings."""
        from dataclasses import asdict

        from harness.infra.workcount import counting

        if setup is not None:
            setup()
        with counting() as work:
            run()
        benchmark.extra_info["work"] = {"tasks": tasks, **asdict(work)}


@pytest.fixture(scope="session")
def bench_opts(pytestconfig: pytest.Config) -> BenchOptions:
    opts = BenchOptions(
        grid=pytestconfig.getoption("bench_grid"),
        tasks=pytestconfig.getoption("bench_tasks"),
        tasks_pruned=pytestconfig.getoption("bench_tasks_pruned"),
        floor_tasks=pytestconfig.getoption("bench_floor_tasks"),
        latency_tasks=pytestconfig.getoption("bench_latency_tasks"),
        rate=pytestconfig.getoption("bench_rate"),
        rounds=pytestconfig.getoption("bench_rounds"),
        warmup=pytestconfig.getoption("bench_warmup"),
        month_days=pytestconfig.getoption("bench_month_days"),
        month_rounds=pytestconfig.getoption("bench_month_rounds"),
    )
    sizes = (
        opts.tasks,
        opts.tasks_pruned,
        opts.floor_tasks // 10,
        opts.latency_tasks,
        opts.rounds,
        opts.month_days,
        opts.month_rounds,
    )
    if min(sizes) < 1 or opts.rate <= 0 or opts.warmup < 0:
        pytest.exit(
            "benchmark sizes and rounds must be positive (floor tasks ≥ 10), warm-up ≥ 0",
            returncode=2,
        )
    return opts


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    kind = metafunc.config.getoption("bench_grid")
    if "drain_cfg" in metafunc.fixturenames:
        cfgs = grid.drain_grid(kind)
        metafunc.parametrize("drain_cfg", cfgs, ids=[c.id for c in cfgs])
    if "latency_cfg" in metafunc.fixturenames:
        cfgs = grid.latency_grid(kind)
        metafunc.parametrize("latency_cfg", cfgs, ids=[c.id for c in cfgs])
    if "floor_pair" in metafunc.fixturenames:
        pairs = grid.floor_grid(kind)
        metafunc.parametrize("floor_pair", pairs, ids=[f"c{c}-b{b}" for c, b in pairs])


@pytest.fixture(scope="session")
def bench_env() -> BenchEnv:
    """The bench database (created and migrated once per run) with the save probe, and Redis."""
    from harness.infra.database import DatabaseUnavailable, resolve

    try:
        settings = resolve().settings
    except DatabaseUnavailable as exc:
        pytest.exit(f"error: {exc}", returncode=2)
    name = os.environ.get("BENCH_DB_NAME") or f"{settings['NAME']}_bench"
    benchdb.ensure_database(settings, name)
    benchdb.migrate({"BENCH_DB_NAME": name})
    db = benchdb.connect_kwargs(settings, name)
    with benchdb.connect(db) as conn:
        benchdb.install_probe(conn)
    redis_url = os.environ.get("HARNESS_REDIS_URL") or REDIS_DEFAULT
    return BenchEnv(
        db=db,
        db_name=name,
        redis_url=redis_url,
        log_dir=benchdb.REPO_ROOT / "reports" / "bench" / "logs",
        redis_ok=_redis_answers(redis_url),
    )


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False
