"""The floors do the work they claim, and the SQL floor issues django-q2's own statements."""

from __future__ import annotations

import os
import queue
import re
from multiprocessing import Event, Value

import pytest

from benchmarks import benchdb, floor

pytestmark = [pytest.mark.dbpath]


@pytest.fixture
def raw(transactional_db):
    """A raw autocommit psycopg connection to the test database; floor tables dropped after."""
    from django.db import connection

    with benchdb.connect(benchdb.connect_kwargs(connection.settings_dict)) as conn:
        yield conn
        conn.execute("DROP TABLE IF EXISTS bench_jobs, floor_ormq, floor_task")


def test_skip_locked_consumers_run_every_job_once(raw) -> None:
    from django.db import connection

    floor.fill_jobs(raw, 300)
    pool = floor.ConsumerPool(benchdb.connect_kwargs(connection.settings_dict), 2, 7).start()
    counts = pool.go()
    assert sum(counts) == 300 and len(counts) == 2
    assert raw.execute("SELECT count(*) FROM bench_jobs").fetchone() == (0,)
    assert all(p.poll() is not None for p in pool.procs)


def test_sql_floor_drains_saves_and_acks(raw) -> None:
    floor.prepare_floor(raw)
    assert floor.replay(raw, 25, bulk=10, save_limit=0, with_enqueue=True) == 25
    assert raw.execute("SELECT count(*) FROM floor_ormq").fetchone() == (0,)
    assert raw.execute("SELECT count(*) FROM floor_task").fetchone() == (25,)


def test_sql_floor_prunes_like_save_limit(raw) -> None:
    floor.prepare_floor(raw, seed=10)
    floor.enqueue(raw, 4)
    assert floor.replay(raw, 4, bulk=3, save_limit=10, with_enqueue=False) == 4
    seeds, ours = raw.execute(
        "SELECT count(*) FILTER (WHERE name LIKE 'seed-%%'), count(*) FILTER (WHERE "
        "name NOT LIKE 'seed-%%') FROM floor_task"
    ).fetchone()
    assert (seeds, ours) == (6, 4)  # steady at the limit, oldest (seeds) deleted first


def _shape(sql: str) -> tuple[str, str, bool]:
    table = "ormq" if "django_q_ormq" in sql else "task" if "django_q_task" in sql else ""
    return sql.split()[0].upper(), table, bool(re.search(r"FOR UPDATE", sql))


def test_sql_floor_statements_are_the_ones_django_q2_issues(transactional_db) -> None:
    """One task through the real async_task, pusher, worker and monitor, SQL captured."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_q.brokers.orm import ORM
    from django_q.conf import Conf
    from django_q.monitor import monitor
    from django_q.pusher import pusher
    from django_q.tasks import async_task
    from django_q.worker import worker

    if Conf.SAVE_LIMIT > 0:  # the prune's steady state: the limit is reached
        with connection.cursor() as cur:
            cur.execute(
                benchdb.SEED_SQL,
                (benchdb.pickled(()), benchdb.pickled({}), benchdb.pickled(1.0), Conf.SAVE_LIMIT),
            )
    broker = ORM(list_key=f"shapes{os.getpid()}")
    event = Event()
    event.set()  # pusher does one dequeue and returns
    tasks, results = queue.Queue(), queue.Queue()
    with CaptureQueriesContext(connection) as ctx:
        async_task("benchmarks.benchproject.tasks.started_at", broker=broker)
        pusher(tasks, event, broker)
        tasks.put("STOP")
        worker(tasks, results, Value("f", -1), timeout=None)
        results.put("STOP")
        monitor(results, broker)
    # django-q2's own statements: the project's signal receivers (the reference platform's
    # TaskRun row, written on post_execute) are the project's, not the queue's
    queries = [q["sql"] for q in ctx.captured_queries if "common_taskrun" not in q["sql"]]
    assert len(queries) == len(ctx.captured_queries) - 1
    shapes = [_shape(sql) for sql in queries]
    assert shapes == floor.task_statement_shapes(Conf.SAVE_LIMIT)
