"""Rounds of the real-qcluster benchmarks: a warmed-up cluster, a fresh backlog per round.

Two shapes of round, both on a cluster started once per configuration (start-up is reported,
not timed):

* :class:`DrainBench`, the saturation figure. Untimed setup: empty the tables, seed
  ``save_limit`` old results (the monitor's steady state), and let the real ``async_task``
  enqueue N tasks onto a *staging* queue name. Timed: release the backlog to the cluster's queue
  in one statement (ORM: one ``UPDATE … SET key``; Redis: one ``RPUSH`` of all payloads) and
  wait until the save probe counted N saved tasks. tasks/s = N / time.
* :class:`LatencyBench`, latency below saturation. A producer started in setup enqueues N tasks
  at a fixed rate on the live queue; the timed part is the whole paced run. Latencies are
  per task, from its own enqueue time.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import benchdb
from benchmarks.grid import ClusterConfig
from harness.infra.realcluster import ENV_VAR, RealCluster

CLUSTER_NAME = "bench"
STAGING = "bench-staging"
WARMUP_TASKS = 20


@dataclass
class BenchEnv:
    """Where the benchmarks run: the bench database, Redis, and a directory for logs."""

    db: dict[str, Any]  # psycopg connect kwargs of the bench database
    db_name: str
    redis_url: str
    log_dir: Path
    redis_ok: bool = True

    @property
    def subprocess_env(self) -> dict[str, str]:
        return {"BENCH_DB_NAME": self.db_name}


@dataclass
class RoundResult:
    seconds: float
    tasks_per_s: float
    latency_ms: dict[str, dict[str, float]]


@dataclass
class _Bench:
    env: BenchEnv
    cfg: ClusterConfig
    tasks: int
    rounds: list[RoundResult] = field(default_factory=list)
    samples: list[tuple[float, float]] = field(default_factory=list)  # (start ms, saved ms)
    cluster: RealCluster | None = None
    enqueue_rates: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.conn = benchdb.connect(self.env.db)
        self._redis: Any = None
        self._pending: float | None = None  # release/start instant of an unharvested round
        self._t_round: float = 0.0

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def overrides(self) -> dict[str, Any]:
        return self.cfg.q_cluster(CLUSTER_NAME, self.env.redis_url)

    @property
    def redis(self) -> Any:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self.env.redis_url)
        return self._redis

    def _flush_redis(self) -> None:
        if self.cfg.broker != "redis":
            return
        keys = list(self.redis.scan_iter(match=f"django_q:{CLUSTER_NAME}*"))
        if keys:
            self.redis.delete(*keys)

    def produce(self, count: int, list_key: str | None = None, rate: float = 0.0) -> Any:
        """Start the bench project's producer; return it once it said ``ready``."""
        argv = [sys.executable, "-m", "benchmarks.benchproject.produce", "--count", str(count)]
        if list_key:
            argv += ["--list-key", list_key]
        if rate:
            argv += ["--rate", str(rate), "--wait-go"]
        env = {
            **os.environ,
            **self.env.subprocess_env,
            "DJANGO_SETTINGS_MODULE": benchdb.BENCH_SETTINGS,
            ENV_VAR: json.dumps(self.overrides, sort_keys=True),
        }
        proc = subprocess.Popen(
            argv,
            cwd=benchdb.REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = proc.stdout.readline().strip() if proc.stdout else ""
        if line != "ready":
            proc.kill()
            _, err = proc.communicate()
            raise RuntimeError(f"producer did not start: {' | '.join(err.splitlines()[-3:])}")
        return proc

    def finish_producer(self, proc: Any) -> None:
        out, err = proc.communicate(timeout=600)
        if proc.returncode:
            raise RuntimeError(f"producer failed: {' | '.join(err.splitlines()[-3:])}")
        report = json.loads(out.strip().splitlines()[-1])
        if report["enqueue_s"] > 0:
            self.enqueue_rates.append(report["count"] / report["enqueue_s"])

    def wait_saved(self, count: int) -> None:
        deadline = time.perf_counter() + 30 + count / 20
        next_check = time.perf_counter() + 1
        while benchdb.saved_count(self.conn) < count:
            now = time.perf_counter()
            if now > deadline:
                raise TimeoutError(
                    f"{self.cfg.id}: only {benchdb.saved_count(self.conn)}/{count} tasks saved; "
                    f"cluster log: {self.cluster.log_tail() if self.cluster else '-'}"
                )
            if now > next_check and self.cluster and not self.cluster.running():
                raise RuntimeError(f"{self.cfg.id}: the cluster died: {self.cluster.log_tail()}")
            if now > next_check:
                next_check = now + 1
            time.sleep(0.01)

    def reset(self) -> None:
        benchdb.reset_round(self.conn, [CLUSTER_NAME, STAGING], self.cfg.save_limit)
        self._flush_redis()

    @contextlib.contextmanager
    def running(self) -> Iterator[_Bench]:
        """The cluster of this configuration, warmed up; stopped (SIGTERM) afterwards."""
        self.env.log_dir.mkdir(parents=True, exist_ok=True)
        self.reset()
        self.cluster = RealCluster(
            benchdb.BENCH_SETTINGS,
            self.overrides,
            env=self.env.subprocess_env,
            cwd=benchdb.REPO_ROOT,
            stop_timeout=20,
            log_path=self.env.log_dir / f"{self.cfg.id}.log",
        )
        self.cluster.log_path.unlink(missing_ok=True)  # type: ignore[union-attr]
        try:
            with self.cluster:
                self.finish_producer(self.produce(WARMUP_TASKS))
                self.wait_saved(WARMUP_TASKS)
                self.enqueue_rates.clear()
                yield self
                self.harvest()
        finally:
            with contextlib.suppress(Exception):
                self._flush_redis()
            self.conn.close()

    # -- results -----------------------------------------------------------------------------

    def harvest(self) -> None:
        """Turn the finished round's probe rows into a :class:`RoundResult`."""
        if self._pending is None:
            return
        origin = self._pending
        self._pending = None
        saved = benchdb.harvest(self.conn)
        if len(saved) != self.tasks:
            raise RuntimeError(f"{self.cfg.id}: {len(saved)} tasks saved, expected {self.tasks}")
        since = origin if self.relative_to_release else None
        samples = benchdb.latency_samples(saved, since=since)
        self.samples.extend(samples)
        lat = benchdb.latency_ms_from_samples(samples)
        span = max(s.saved for s in saved) - origin
        self.rounds.append(RoundResult(span, self.tasks / span, lat))

    relative_to_release = True

    def extra_info(self, group: str) -> dict[str, Any]:
        """What the summary reads (see docs/benchmarks.md, "extra_info convention")."""
        info: dict[str, Any] = {
            "group": group,
            "tasks": self.tasks,
            "config": self.cfg.id,
            "broker": self.cfg.broker,
            "workers": self.cfg.workers,
            "bulk": self.cfg.bulk,
            "queue_limit": self.cfg.queue_limit,
            "save_limit": self.cfg.save_limit,
            "rounds_tasks_per_s": [round(r.tasks_per_s, 1) for r in self.rounds],
            "latency_ms": benchdb.latency_ms_from_samples(self.samples),
            "load1": round(os.getloadavg()[0], 2),
        }
        if self.cluster:
            info["startup_s"] = round(self.cluster.startup_s or 0.0, 3)
            info["stop_s"] = round(self.cluster.stop_s or 0.0, 3)
        if self.enqueue_rates:
            info["enqueue_per_s"] = round(sorted(self.enqueue_rates)[len(self.enqueue_rates) // 2])
        return info


class DrainBench(_Bench):
    """Saturation: a released backlog of ``tasks`` per round (see module docstring)."""

    def setup(self) -> tuple[tuple[()], dict[str, Any]]:
        self.harvest()
        self.reset()
        self.finish_producer(self.produce(self.tasks, list_key=STAGING))
        self._payloads: list[bytes] = []
        if self.cfg.broker == "redis":
            key = f"django_q:{STAGING}:q"
            self._payloads = self.redis.lrange(key, 0, -1)
            self.redis.delete(key)
            if len(self._payloads) != self.tasks:
                raise RuntimeError(f"staged {len(self._payloads)} of {self.tasks} payloads")
        return (), {}

    def run(self) -> None:
        self._pending = time.time()
        if self.cfg.broker == "redis":
            self.redis.rpush(f"django_q:{CLUSTER_NAME}:q", *self._payloads)
        else:
            self.conn.execute(
                "UPDATE django_q_ormq SET key = %s WHERE key = %s", (CLUSTER_NAME, STAGING)
            )
        self.wait_saved(self.tasks)


class LatencyBench(_Bench):
    """Latency at a fixed enqueue ``rate`` (tasks/s), below saturation."""

    relative_to_release = False

    def __init__(self, env: BenchEnv, cfg: ClusterConfig, tasks: int, rate: float) -> None:
        super().__init__(env, cfg, tasks)
        self.rate = rate

    def setup(self) -> tuple[tuple[Any], dict[str, Any]]:
        self.harvest()
        self.reset()
        return (self.produce(self.tasks, rate=self.rate),), {}

    def run(self, producer: Any) -> None:
        self._pending = time.time()
        assert producer.stdin is not None
        producer.stdin.write("go\n")
        producer.stdin.flush()
        self.wait_saved(self.tasks)
        self.finish_producer(producer)

    def extra_info(self, group: str) -> dict[str, Any]:
        info = {**super().extra_info(group), "rate_per_s": self.rate}
        info.pop("enqueue_per_s", None)  # the paced rate, not a measurement
        return info
