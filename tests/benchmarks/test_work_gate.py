"""The work-counter gate on real drains: one extra query per task fails it, noise does not.

Two drains of the same backlog count the same work (SQL statements, rows, Python calls), so the
gate can use a 2 % tolerance; a drain whose every task runs one more query (a ``pre_execute``
handler here, as a careless signal receiver in a project would) is caught, whatever the clock
says.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection
from django_q.signals import pre_execute
from django_q.tasks import async_task

from benchmarks import report
from harness import ClusterSpec, Simulation
from harness.infra.workcount import Work, counting

pytestmark = pytest.mark.django_db(transaction=True)

TASKS = 30
START = datetime(2026, 3, 1, tzinfo=UTC)


def _drain() -> Work:
    with connection.cursor() as cur:
        cur.execute("truncate django_q_ormq, django_q_task, django_q_schedule")
    with Simulation(START, [ClusterSpec(workers=2, bulk=10, save_limit=0)], seed=1) as sim:
        for i in range(TASKS):
            async_task("tests.harness.sample_tasks.add", i, 1)
        with counting() as work:
            assert sim.drain() == {"ok": TASKS, "failed": 0, "timeout": 0}
    return work


def _extra_query(sender, **kwargs) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")


def _run_file(path: Path, work: Work, median_s: float) -> Path:
    bench = {
        "name": "test_replay_drain",
        "stats": {"min": median_s, "max": median_s, "median": median_s, "rounds": 1},
        "extra_info": {
            "group": "replay-drain",
            "tasks": TASKS,
            "work": {"tasks": TASKS, **asdict(work)},
        },
    }
    path.write_text(json.dumps({"benchmarks": [bench]}))
    return path


def test_counted_work_is_stable_and_an_extra_query_per_task_fails_the_gate(tmp_path, capsys):
    _drain()  # warm-up: imports and first-call caches
    base, again = _drain(), _drain()
    pre_execute.connect(_extra_query, dispatch_uid="test-extra-query")
    try:
        heavier = _drain()
    finally:
        pre_execute.disconnect(dispatch_uid="test-extra-query")

    assert (base.statements, base.rows) == (again.statements, again.rows)
    assert abs(again.calls - base.calls) <= base.calls * 0.002  # counted, not timed
    assert heavier.statements == base.statements + TASKS  # exactly one more per task
    assert heavier.rows == base.rows + TASKS

    baseline = _run_file(tmp_path / "base.json", base, 1.0)
    # the same work on a machine 60 % slower: seconds are shown, not gated
    noisy = _run_file(tmp_path / "noisy.json", again, 1.6)
    assert report.main(["compare", str(baseline), str(noisy)]) == 0
    assert "info (gated on work)" in capsys.readouterr().out

    # one query more per task, in a run that happened to be faster
    worse = _run_file(tmp_path / "worse.json", heavier, 0.9)
    assert report.main(["compare", str(baseline), str(worse)]) == 1
    out = capsys.readouterr().out
    assert "test_replay_drain (statements/task)" in out and "REGRESSION" in out
    (stmts,) = [
        v
        for v in report.compare(report.load(baseline), report.load(worse), 15)
        if v.metric == "statements/task"
    ]
    assert stmts.current - stmts.baseline == pytest.approx(1.0)
