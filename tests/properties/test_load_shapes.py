"""Any load shape through the simulated cluster: every arrival runs exactly once.

A property of the harness's driver under :func:`harness.search.strategies.load_shapes`: with tasks
that succeed and finish well inside ``retry``, no arrival pattern (evenly spread, a burst, a ramp;
one or several workers, bulk claims) may lose a task or run one twice.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django_q.tasks import async_task
from hypothesis import given
from hypothesis import strategies as st

from harness import ClusterSpec, Durations, Simulation
from harness.search.strategies import load_shapes
from tests.properties.support import machine_settings

pytestmark = [pytest.mark.django_db, pytest.mark.dbpath]

START = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
ADD = "tests.harness.sample_tasks.add"


@machine_settings()  # each example runs a simulation on PostgreSQL
@given(
    load_shapes(max_count=12, max_horizon_hours=2),
    st.integers(1, 3),
    st.integers(1, 3),
    st.floats(0.1, 30),
)
def test_every_arrival_runs_exactly_once(shape, workers, bulk, seconds):
    cluster = ClusterSpec(workers=workers, bulk=bulk, retry=600, timeout=300)
    with transaction.atomic():
        with Simulation(START, [cluster], seed=1, durations=Durations(seconds)) as sim:
            for i, offset in enumerate(shape.offsets()):
                sim.at(START + offset, async_task, ADD, i, 1)
            sim.advance(shape.horizon + dt.timedelta(hours=1))
            stats = sim.stats().get(ADD, {"runs": 0, "ok": 0, "duplicates": 0})
            started = sorted(e.data["task"] for e in sim.timeline.of("task.started"))
        transaction.set_rollback(True)
    assert stats["runs"] == stats["ok"] == shape.count
    assert stats["duplicates"] == 0
    assert len(set(started)) == shape.count
