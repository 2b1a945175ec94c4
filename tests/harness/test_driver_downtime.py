"""A cluster going down and coming back: killed work, redelivery, and catch-up bursts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django_q.models import Schedule, Task
from django_q.tasks import async_task, schedule

from harness import ClusterSpec, Durations, Simulation

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
SLOW = "tests.harness.sample_tasks.add"


def test_task_running_when_the_cluster_dies_is_redelivered_after_retry() -> None:
    down = [(T0 + timedelta(seconds=10), T0 + timedelta(minutes=2))]
    spec = ClusterSpec(retry=300, timeout=120, downtime=down)
    with Simulation(T0, [spec], durations=Durations(per_func={SLOW: 60})) as sim:
        tid = async_task(SLOW, 1, 1)
        sim.advance(minutes=20)
    kinds = [e.kind for e in sim.timeline if e.data.get("task") == tid or e.kind.startswith("c")]
    assert (
        kinds[:5]
        == ["task.enqueued", "task.claimed", "task.started", "cluster.down", "task.killed"][
            : len(kinds[:5])
        ]
        or "task.killed" in kinds
    )
    killed = sim.timeline.of("task.killed", task=tid)
    assert killed and killed[0].at == down[0][0]
    claims = sim.timeline.of("task.claimed", task=tid)
    # Back up at +2 min, but the row stays locked until claim + retry (300 s).
    assert [c.data["redelivery"] for c in claims] == [False, True]
    assert claims[1].at - claims[0].at == timedelta(seconds=300, microseconds=1)
    assert Task.objects.get(id=tid).attempt_count == 1  # the killed run never reached save_task
    assert sim.stats()[SLOW]["runs"] == 2


@pytest.mark.parametrize("catch_up", [True, False])
def test_catch_up_after_downtime(catch_up: bool) -> None:
    """catch_up=True replays missed slots one per scheduler pass (django-q2#266);
    catch_up=False fires the stale slot once, then jumps to the next future slot."""
    back = T0 + timedelta(minutes=10, seconds=50)
    spec = ClusterSpec(retry=60, catch_up=catch_up, downtime=[(T0 + timedelta(seconds=50), back)])
    with Simulation(T0, [spec]) as sim:
        schedule(
            "tests.harness.sample_tasks.tick",
            name="minutely",
            schedule_type=Schedule.MINUTES,
            minutes=1,
            next_run=T0 + timedelta(seconds=10),
        )
        sim.run_until(T0 + timedelta(minutes=16, seconds=40))
    fired = [(e.at, e.data["slot"]) for e in sim.timeline.of("schedule.fired")]
    slot0 = T0 + timedelta(seconds=10)
    assert fired[0] == (T0 + timedelta(seconds=30), slot0)
    after = [f for f in fired if f[0] >= back]
    first_pass = back + timedelta(seconds=30)
    if catch_up:
        # Every pass (30 s apart) fires the next missed minute: still behind at the end.
        assert after == [
            (first_pass + timedelta(seconds=30 * k), slot0 + timedelta(minutes=1 + k))
            for k in range(len(after))
        ]
        assert len(after) == 11
    else:
        assert after[0] == (first_pass, slot0 + timedelta(minutes=1))  # the stale slot, once
        resumed = slot0 + timedelta(minutes=12)  # the first slot after 08:11:20
        assert after[1:] == [
            (resumed + timedelta(minutes=k, seconds=10), resumed + timedelta(minutes=k))
            for k in range(len(after) - 1)
        ]
