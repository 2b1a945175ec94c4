"""The sync floor runs the executions a replay captured, inline, with no broker in between."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import syncfloor

pytestmark = pytest.mark.dbpath
TINY = Path(__file__).resolve().parents[1] / "scenarios" / "tiny.toml"


def test_the_floor_replays_every_captured_execution_inline(django_db_blocker):
    from harness.run import runner
    from harness.scenario import read

    scenario = read(str(TINY))
    with django_db_blocker.unblock():
        with syncfloor.capturing() as executions:
            result = runner.run(scenario)
        ran = sum(row["runs"] for row in result.stats.values())
        assert len(executions) == ran >= 10
        assert [e.at for e in executions] == sorted(e.at for e in executions)

        enqueued: list[str] = []
        from django_q.signals import pre_enqueue

        def on_enqueue(sender, task, **kwargs):
            enqueued.append(task["func"])

        pre_enqueue.connect(on_enqueue, dispatch_uid="test-floor")
        try:
            floor = syncfloor.run_inline(scenario, result.seed, executions)
        finally:
            pre_enqueue.disconnect(dispatch_uid="test-floor")
    assert floor.executions == ran and floor.loads == 10  # one order a minute for ten minutes
    replay_failed = sum(row["failed"] for row in result.stats.values())
    assert floor.failed == replay_failed  # the same fault plan, the same bodies, inline
    assert len(enqueued) >= 10  # loads still call async_task (signed, pickled) ...
    assert 0 < floor.bodies_s < floor.wall_s  # ... whose broker stores nothing to pull
