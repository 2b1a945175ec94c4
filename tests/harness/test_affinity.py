"""CPU co-location of a simulation and its PostgreSQL backend (harness.infra.affinity).

It must pin both sides to one CPU while a simulation is open, give both their CPUs back on
close, stay out of the way when it cannot help, and never change a timeline.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from django.db import connection
from django_q.tasks import async_task

from harness import ClusterSpec, Simulation
from harness.infra.affinity import colocate, widened_affinity

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
        reason="co-location needs Linux and two usable CPUs",
    ),
]

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def backend_pid() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]


def test_pins_the_thread_and_the_backend_to_one_cpu_and_gives_them_back(monkeypatch):
    monkeypatch.delenv("HARNESS_COLOCATE", raising=False)
    pid = backend_pid()
    mine, theirs = os.sched_getaffinity(0), os.sched_getaffinity(pid)
    col = colocate(connection, worker="gw1")
    try:
        allowed = sorted(mine)
        assert col.cpu == allowed[1 % len(allowed)], col
        assert col.backend_pid == pid
        assert os.sched_getaffinity(0) == {col.cpu}
        assert os.sched_getaffinity(pid) == {col.cpu}
        assert widened_affinity() == mine  # what a subprocess started now should get
    finally:
        col.release()
    assert os.sched_getaffinity(0) == mine
    assert os.sched_getaffinity(pid) == theirs
    assert widened_affinity() is None
    col.release()  # idempotent


def test_turned_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("HARNESS_COLOCATE", "0")
    before = os.sched_getaffinity(0)
    col = colocate(connection)
    assert col.cpu is None and "HARNESS_COLOCATE=0" in col.reason
    assert os.sched_getaffinity(0) == before


class _FakeConnection:
    """A connection whose server reports ``addr`` and backend ``pid`` (no database needed)."""

    vendor = "postgresql"

    def __init__(self, pid: int, addr: str | None) -> None:
        self.row = (pid, addr)

    @contextmanager
    def cursor(self):
        row = self.row

        class Cursor:
            def execute(self, sql: str) -> None:
                assert "pg_backend_pid" in sql

            def fetchone(self):
                return row

        yield Cursor()


@pytest.mark.parametrize(
    "pid,addr,reason",
    [
        (os.getpid(), "10.1.2.3/32", "not on this machine"),  # a remote server
        (2**22 + 7, "127.0.0.1/32", "not a local process"),  # a pid that is not ours to pin
        (os.getpid(), None, "not a local process"),  # a local pid that is not postgres
    ],
    ids=["remote-server", "unknown-pid", "not-postgres"],
)
def test_does_nothing_when_the_backend_is_not_a_local_postgres(monkeypatch, pid, addr, reason):
    monkeypatch.delenv("HARNESS_COLOCATE", raising=False)
    before = os.sched_getaffinity(0)
    col = colocate(_FakeConnection(pid, addr))
    assert col.cpu is None and reason in col.reason, col
    assert os.sched_getaffinity(0) == before


def _timeline(colocate_: bool) -> tuple[bytes, int | None]:
    with connection.cursor() as cur:
        cur.execute("TRUNCATE django_q_ormq, django_q_task, django_q_schedule")
    before = os.sched_getaffinity(0)
    spec = ClusterSpec(workers=2, bulk=3, queue_limit=4, retry=60)
    with Simulation(START, [spec], seed=3, colocate=colocate_) as sim:
        for n in range(12):
            async_task("tests.harness.sample_tasks.add", n, 1)
        async_task("tests.harness.sample_tasks.fail")
        sim.advance(minutes=3)
        cpu = sim.colocation.cpu if sim.colocation else None
        if cpu is not None:
            assert os.sched_getaffinity(0) == {cpu}
        body = sim.timeline.dumps().encode()
    assert os.sched_getaffinity(0) == before  # close() gave the CPUs back
    return body, cpu


def test_a_simulation_is_colocated_while_open_and_its_timeline_does_not_depend_on_it(monkeypatch):
    monkeypatch.delenv("HARNESS_COLOCATE", raising=False)
    pinned, cpu = _timeline(True)
    free, none = _timeline(False)
    assert cpu is not None and none is None
    assert pinned == free
    assert b'"task.finished"' in pinned and b'"failed"' in pinned
