"""The benchmark database: creation, the save probe, per-round reset, and latency harvest.

Everything here is raw psycopg, so the benchmarking pytest process needs no Django settings of
its own (whatever ``DJANGO_SETTINGS_MODULE`` the run has, e.g. the lead's replay benchmarks).

The *save probe* is an ``AFTER INSERT`` trigger on ``django_q_task`` copying each saved task's
``started`` (enqueue time), ``stopped`` (worker end), ``result`` (the task's own start time, see
``benchproject.tasks``) and ``clock_timestamp()`` (the moment the monitor saved it) into
``bench_saved``. That gives the true enqueue→saved latency (``Task.stopped`` is set by the worker
*before* the result waits in the monitor's queue) and a completion count that ``save_limit``
pruning cannot shrink. Its cost is one heap insert inside the monitor's own INSERT.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pickle
import statistics
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from harness.infra.database import psycopg_kwargs

BENCH_SETTINGS = "benchmarks.benchproject.settings"
REPO_ROOT = Path(__file__).resolve().parent.parent

PROBE_SQL = """
CREATE UNLOGGED TABLE IF NOT EXISTS bench_saved (
    id varchar(32) NOT NULL,
    started timestamptz NOT NULL,
    stopped timestamptz NOT NULL,
    result text,
    saved_at timestamptz NOT NULL
);
CREATE OR REPLACE FUNCTION bench_saved_probe() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_saved (id, started, stopped, result, saved_at)
    VALUES (NEW.id, NEW.started, NEW.stopped, NEW.result, clock_timestamp());
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER bench_saved_probe AFTER INSERT ON django_q_task
    FOR EACH ROW EXECUTE FUNCTION bench_saved_probe();
"""

SEED_SQL = """
INSERT INTO django_q_task
    (id, name, func, args, kwargs, result, started, stopped, success, attempt_count, "group")
SELECT md5('seed' || g), 'seed-' || g, 'benchmarks.benchproject.tasks.started_at', %s, %s, %s,
       now() - interval '1 day', now() - interval '1 day' + g * interval '1 ms', true, 1, 'seed'
FROM generate_series(1, %s) AS g
"""


def pickled(value: object) -> str:
    """What ``PickledObjectField`` stores: base64 of the highest-protocol pickle.

    Seeded results carry real pickles because the monitor's prune unpickles every kept row.
    """
    return base64.b64encode(pickle.dumps(value, protocol=-1)).decode()


def connect_kwargs(settings: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
    """psycopg keyword arguments for a Django ``DATABASES`` entry (optionally another db name)."""
    return psycopg_kwargs(settings, name)


def connect(kwargs: Mapping[str, Any]) -> psycopg.Connection[Any]:
    return psycopg.connect(**kwargs, autocommit=True)


def ensure_database(settings: Mapping[str, Any], name: str) -> None:
    """``CREATE DATABASE name`` on the server of ``settings`` unless it exists."""
    with connect(connect_kwargs(settings, "postgres")) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        with contextlib.suppress(psycopg.errors.DuplicateDatabase):
            conn.execute(f'CREATE DATABASE "{name}"')


def migrate(env: Mapping[str, str]) -> None:
    """``django migrate`` of the bench project in a subprocess (one line on failure)."""
    proc = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "-v", "0", "--settings", BENCH_SETTINGS],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"migrating the bench database failed: {tail}")


def install_probe(conn: psycopg.Connection[Any]) -> None:
    conn.execute(PROBE_SQL)


def reset_round(conn: psycopg.Connection[Any], keys: Sequence[str], seed: int) -> None:
    """Empty the queues ``keys`` and the results, then seed ``seed`` old Success rows.

    Seeding ``save_limit`` rows puts the monitor in its steady state from the first task: every
    save selects (FOR UPDATE) ``save_limit`` rows and deletes the oldest, as in production.
    Runs while the cluster is idle; VACUUM keeps dead rows of earlier rounds out of the timing.
    """
    conn.execute("DELETE FROM django_q_ormq WHERE key = ANY(%s)", (list(keys),))
    conn.execute("DELETE FROM django_q_task")
    if seed:
        conn.execute(SEED_SQL, (pickled(()), pickled({}), pickled(1.0e9), seed))
    conn.execute("TRUNCATE bench_saved")
    conn.execute("VACUUM (ANALYZE) django_q_task, django_q_ormq")


def saved_count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM bench_saved").fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class Saved:
    """One task as the probe saw it; all times are POSIX seconds."""

    enqueued: float
    started: float
    stopped: float
    saved: float


def decode_result(text: str | None) -> Any:
    """A ``PickledObjectField`` value (base64 of a pickle) back to the object."""
    if text is None:
        return None
    return pickle.loads(base64.b64decode(text))


def harvest(conn: psycopg.Connection[Any]) -> list[Saved]:
    rows = conn.execute("SELECT started, stopped, result, saved_at FROM bench_saved").fetchall()
    return [
        Saved(_ts(enq), float(decode_result(res)), _ts(stop), _ts(saved))
        for enq, stop, res, saved in rows
    ]


def _ts(value: datetime) -> float:
    return value.timestamp()


def percentiles(values: Iterable[float], points: Sequence[int] = (50, 95, 99)) -> dict[str, float]:
    """``{"p50": …, …}`` by linear interpolation between closest ranks (inclusive method)."""
    data = sorted(values)
    if not data:
        return {f"p{p}": float("nan") for p in points}
    if len(data) == 1:
        return {f"p{p}": data[0] for p in points}
    cuts = statistics.quantiles(data, n=100, method="inclusive")
    return {f"p{p}": cuts[p - 1] for p in points}


def latency_ms(saved: Sequence[Saved], since: float | None = None) -> dict[str, dict[str, float]]:
    """Percentiles of enqueue→start and enqueue→saved in milliseconds.

    ``since``: a common origin instead of each task's enqueue time (a released backlog: every
    task became visible at the release instant).
    """
    return latency_ms_from_samples(latency_samples(saved, since))


def latency_samples(
    saved: Sequence[Saved], since: float | None = None
) -> list[tuple[float, float]]:
    """``(enqueue→start ms, enqueue→saved ms)`` per task."""
    out = []
    for s in saved:
        base = since if since is not None else s.enqueued
        out.append(((s.started - base) * 1000, (s.saved - base) * 1000))
    return out


def latency_ms_from_samples(samples: Sequence[tuple[float, float]]) -> dict[str, dict[str, float]]:
    """Rounded percentiles of pooled ``(start ms, saved ms)`` samples."""
    return {
        "start": {k: round(v, 1) for k, v in percentiles(s for s, _ in samples).items()},
        "saved": {k: round(v, 1) for k, v in percentiles(d for _, d in samples).items()},
    }
