"""Real ``qcluster`` on real PostgreSQL and Redis: saturation throughput and latency.

See :mod:`benchmarks.qbench` for what a round is, and docs/benchmarks.md for the results.
"""

from __future__ import annotations

import pytest

from benchmarks.grid import ClusterConfig
from benchmarks.qbench import BenchEnv, DrainBench, LatencyBench


def _need_broker(env: BenchEnv, cfg: ClusterConfig) -> None:
    if cfg.broker == "redis" and not env.redis_ok:
        pytest.skip(f"Redis does not answer at {env.redis_url} (set HARNESS_REDIS_URL)")


@pytest.mark.benchmark(group="qcluster-drain")
def test_qcluster_drain(benchmark, bench_env, bench_opts, drain_cfg) -> None:
    """tasks/s of a warmed-up cluster draining a backlog of N tasks released at once."""
    _need_broker(bench_env, drain_cfg)
    tasks = bench_opts.tasks_pruned if drain_cfg.save_limit > 0 else bench_opts.tasks
    bench = DrainBench(bench_env, drain_cfg, tasks)
    with bench.running():
        benchmark.pedantic(bench.run, setup=bench.setup, rounds=bench_opts.rounds, iterations=1)
    assert len(bench.rounds) == bench_opts.rounds
    benchmark.extra_info.update(bench.extra_info("qcluster-drain"))


@pytest.mark.benchmark(group="qcluster-latency")
def test_qcluster_latency(benchmark, bench_env, bench_opts, latency_cfg) -> None:
    """enqueue→start and enqueue→saved latency at a fixed rate below saturation."""
    _need_broker(bench_env, latency_cfg)
    bench = LatencyBench(bench_env, latency_cfg, bench_opts.latency_tasks, bench_opts.rate)
    with bench.running():
        benchmark.pedantic(bench.run, setup=bench.setup, rounds=bench_opts.rounds, iterations=1)
    assert len(bench.rounds) == bench_opts.rounds
    benchmark.extra_info.update(bench.extra_info("qcluster-latency"))
