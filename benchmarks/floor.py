"""Two floors under the real cluster's figures, both raw psycopg on the same PostgreSQL.

* **SKIP LOCKED floor** (:class:`ConsumerPool`): N consumer processes draining a plain jobs table
  with the textbook at-least-once pattern (``SELECT … FOR UPDATE SKIP LOCKED`` + ``DELETE`` in one
  transaction). What PostgreSQL on this machine gives a queue with no framework around it.
* **SQL floor** (:func:`replay`): the statements django-q2's ORM broker issues per task (enqueue
  INSERT; dequeue SELECT + compare-and-set UPDATE; ``save_task``'s prune, SELECT and INSERT; ack
  DELETE) replayed back to back on one connection, with no Python framework, pickling, signing or
  process hand-offs. :data:`TASK_STATEMENTS` lists their shapes; a test checks them against the
  SQL django-q2 really emits, so the floor cannot drift from the code it stands for.

The SQL floor runs on copies of django-q2's tables (``floor_ormq``, ``floor_task``, created
``LIKE … INCLUDING ALL``: same columns and indexes), so it never meets a running cluster or the
benchmarks' save probe.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from benchmarks import benchdb
from benchmarks.benchdb import pickled

# ---------------------------------------------------------------------------------------------
# SKIP LOCKED floor

JOBS_DDL = """
CREATE TABLE IF NOT EXISTS bench_jobs (id bigserial PRIMARY KEY, payload text NOT NULL)
"""
FILL_SQL = """
INSERT INTO bench_jobs (payload)
SELECT json_build_object('func', 'inc', 'args', json_build_array(g))::text
FROM generate_series(1, %s) AS g
"""
CLAIM_SQL = "SELECT id, payload FROM bench_jobs ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"
DONE_SQL = "DELETE FROM bench_jobs WHERE id = ANY(%s)"


def fill_jobs(conn: psycopg.Connection[Any], count: int) -> None:
    """An empty ``bench_jobs`` table, then ``count`` small JSON jobs."""
    conn.execute(JOBS_DDL)
    conn.execute("TRUNCATE bench_jobs RESTART IDENTITY")
    conn.execute(FILL_SQL, (count,))
    conn.execute("VACUUM (ANALYZE) bench_jobs")


def consume(conn: psycopg.Connection[Any], batch: int) -> int:
    """Claim, 'run' and delete jobs until none is left; return how many this consumer ran."""
    done = 0
    while True:
        with conn.transaction():
            rows = conn.execute(CLAIM_SQL, (batch,)).fetchall()
            if not rows:
                return done
            for _, payload in rows:
                job = json.loads(payload)
                job["args"][0] + 1  # the work: trivial on purpose
            conn.execute(DONE_SQL, ([r[0] for r in rows],))
        done += len(rows)


class ConsumerPool:
    """``consumers`` processes of ``python -m benchmarks.floor consume``, started and connected
    before :meth:`go`, so process start-up stays out of the timing."""

    def __init__(self, conninfo: Mapping[str, Any], consumers: int, batch: int) -> None:
        self.conninfo = dict(conninfo)
        self.consumers = consumers
        self.batch = batch
        self.procs: list[subprocess.Popen[str]] = []

    def start(self) -> ConsumerPool:
        argv = [sys.executable, "-m", "benchmarks.floor", "consume", "--batch", str(self.batch)]
        env = {**os.environ, "BENCH_FLOOR_CONNINFO": json.dumps(self.conninfo)}
        try:
            for _ in range(self.consumers):
                self.procs.append(
                    subprocess.Popen(
                        argv,
                        env=env,
                        cwd=_repo_root(),
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                )
            for proc in self.procs:
                line = proc.stdout.readline().strip() if proc.stdout else ""
                if line != "ready":
                    raise RuntimeError(f"floor consumer did not start (said {line!r})")
        except BaseException:
            self.kill()
            raise
        return self

    def go(self) -> list[int]:
        """Release every consumer at once; wait for all; return jobs run per consumer."""
        try:
            for proc in self.procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            counts = []
            for proc in self.procs:
                out, _ = proc.communicate(timeout=600)
                if proc.returncode:
                    raise RuntimeError(f"floor consumer exited with {proc.returncode}")
                counts.append(int(out.strip().splitlines()[-1]))
            return counts
        finally:
            self.kill()

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _consumer_main(batch: int) -> int:
    conninfo = json.loads(os.environ["BENCH_FLOOR_CONNINFO"])
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute("SELECT 1")
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 1
        print(consume(conn, batch), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# SQL floor

FLOOR_DDL = """
CREATE TABLE IF NOT EXISTS floor_ormq (LIKE django_q_ormq INCLUDING ALL);
CREATE TABLE IF NOT EXISTS floor_task (LIKE django_q_task INCLUDING ALL);
"""
FLOOR_KEY = "floor"
PAYLOAD = "x" * 400  # a signed, pickled django-q2 payload of a no-argument task is ~400 chars
PICKLED_EMPTY_TUPLE = pickled(())
PICKLED_EMPTY_DICT = pickled({})
PICKLED_FLOAT = pickled(1.0e9)
TASK_COLUMNS = (
    'id, name, func, hook, args, kwargs, result, "group", cluster, started, stopped, success, '
    "attempt_count"
)

ENQUEUE = "INSERT INTO floor_ormq (key, payload, lock) VALUES (%s, %s, %s) RETURNING id"
DEQUEUE = "SELECT id, key, payload, lock FROM floor_ormq WHERE key = %s AND lock < %s LIMIT %s"
CLAIM = "UPDATE floor_ormq SET lock = %s WHERE id = %s AND lock = %s"
PRUNE_LOCK = f"SELECT {TASK_COLUMNS} FROM floor_task WHERE success FOR UPDATE"
PRUNE_OLDEST = f"SELECT {TASK_COLUMNS} FROM floor_task WHERE success ORDER BY stopped ASC LIMIT 1"
PRUNE_DELETE = "DELETE FROM floor_task WHERE id IN (%s)"
SAVE_LOOKUP = f"SELECT {TASK_COLUMNS} FROM floor_task WHERE id = %s AND name = %s LIMIT 21"
SAVE_INSERT = (
    f"INSERT INTO floor_task ({TASK_COLUMNS}) "
    "VALUES (%s, %s, %s, NULL, %s, %s, %s, NULL, %s, %s, %s, true, 1)"
)
ACK = "DELETE FROM floor_ormq WHERE id = %s"

TASK_STATEMENTS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    # (verb, table, FOR UPDATE) per task, in django-q2's order; "prune" only when save_limit > 0.
    "enqueue": (("INSERT", "ormq", False),),
    "dequeue": (("SELECT", "ormq", False), ("UPDATE", "ormq", False)),
    "prune": (
        ("BEGIN", "", False),
        ("SELECT", "task", True),
        ("SELECT", "task", False),
        ("DELETE", "task", False),
        ("COMMIT", "", False),
    ),
    "save": (("SELECT", "task", False), ("INSERT", "task", False)),
    # Django's QuerySet.delete() runs in its own atomic block: two more round trips.
    "ack": (("BEGIN", "", False), ("DELETE", "ormq", False), ("COMMIT", "", False)),
}
"""Statement shapes of one task with a ``bulk`` of 1 and ``save_limit`` reached (steady state)."""


def task_statement_shapes(save_limit: int) -> list[tuple[str, str, bool]]:
    """The per-task statement shapes :func:`replay` issues (and django-q2 does)."""
    parts = ["enqueue", "dequeue", *(["prune"] if save_limit > 0 else []), "save", "ack"]
    return [shape for part in parts for shape in TASK_STATEMENTS[part]]


def prepare_floor(conn: psycopg.Connection[Any], seed: int = 0) -> None:
    """Empty floor tables (created on first use), plus ``seed`` old successes."""
    conn.execute(FLOOR_DDL)
    conn.execute("TRUNCATE floor_ormq, floor_task")
    if seed:
        conn.execute(
            benchdb.SEED_SQL.replace("django_q_task", "floor_task"),
            (PICKLED_EMPTY_TUPLE, PICKLED_EMPTY_DICT, PICKLED_FLOAT, seed),
        )
    conn.execute("VACUUM (ANALYZE) floor_ormq, floor_task")


def enqueue(conn: psycopg.Connection[Any], count: int) -> None:
    for _ in range(count):
        conn.execute(ENQUEUE, (FLOOR_KEY, PAYLOAD, _now()))


def drain(conn: psycopg.Connection[Any], bulk: int, save_limit: int, retry: int = 60) -> int:
    """Dequeue, claim, save and ack until the floor queue is empty; return tasks done."""
    done = 0
    while True:
        rows = conn.execute(DEQUEUE, (FLOOR_KEY, _now(), bulk)).fetchall()
        if not rows:
            return done
        claimed = []
        for pk, _key, payload, lock in rows:
            cur = conn.execute(CLAIM, (_now() + timedelta(seconds=retry), pk, lock))
            if cur.rowcount:
                claimed.append((pk, payload))
        for pk, _payload in claimed:
            task_id = f"{pk:032x}"
            if save_limit > 0:
                with conn.transaction():
                    kept = conn.execute(PRUNE_LOCK).fetchall()
                    if len(kept) >= save_limit:
                        oldest = conn.execute(PRUNE_OLDEST).fetchone()
                        if oldest:
                            conn.execute(PRUNE_DELETE, (oldest[0],))
            conn.execute(SAVE_LOOKUP, (task_id, task_id)).fetchall()
            started = _now()
            conn.execute(
                SAVE_INSERT,
                (
                    task_id,
                    task_id,
                    "benchmarks.benchproject.tasks.started_at",
                    PICKLED_EMPTY_TUPLE,
                    PICKLED_EMPTY_DICT,
                    PICKLED_FLOAT,
                    FLOOR_KEY,
                    started,
                    started,
                ),
            )
            with conn.transaction():
                conn.execute(ACK, (pk,))
            done += 1


def replay(
    conn: psycopg.Connection[Any], count: int, bulk: int, save_limit: int, with_enqueue: bool
) -> int:
    """The SQL floor: optionally enqueue ``count`` tasks, then drain them."""
    if with_enqueue:
        enqueue(conn, count)
    return drain(conn, bulk, save_limit)


def _now() -> datetime:
    return datetime.now(UTC)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor")
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("consume", help="one SKIP LOCKED consumer (BENCH_FLOOR_CONNINFO: JSON)")
    c.add_argument("--batch", type=int, default=1)
    args = parser.parse_args(argv)
    if args.cmd == "consume":
        return _consumer_main(args.batch)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    raise SystemExit(main())
