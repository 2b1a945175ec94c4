"""The mirror of the broker (harness.sim._core.mirror): invalidated, never silently wrong.

Project code that writes ``OrmQ`` rows itself during a task — a row created through the ORM, a
queued row's lock moved by ``queryset.update``, an enqueue rolled back with its transaction —
changes what the look-ahead must see. Each test checks that the mirror noticed (it was
invalidated and reloaded) and that the run is the one ``--faithful`` gives, where the look-ahead
asks the database every step.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule, Task
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from harness import ClusterSpec, Simulation
from harness.sim.cluster import EPS

pytestmark = pytest.mark.django_db(transaction=True)

ADD = "tests.harness.sample_tasks.add"
PLANTED = "f" * 32
START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def plant_row(minutes: int) -> None:
    """A task body that writes a queue row itself, visible ``minutes`` from now."""
    now = timezone.now()
    task = {"id": PLANTED, "name": "planted", "func": ADD, "args": (2, 3), "kwargs": {}}
    task["started"] = now
    OrmQ.objects.create(
        key=Conf.CLUSTER_NAME,
        payload=SignedPackage.dumps(task),
        lock=now + timedelta(minutes=minutes),
    )


def delay_queued(minutes: int) -> None:
    """A task body that enqueues a task, then pushes its row's lock ``minutes`` ahead."""
    async_task(ADD, 4, 5)
    later = timezone.now() + timedelta(minutes=minutes)
    OrmQ.objects.filter(lock__lte=timezone.now()).update(lock=later)  # only the fresh row


def enqueue_rolled_back() -> None:
    """A task body whose enqueue is rolled back with its transaction: no row is left."""
    try:
        with transaction.atomic():
            async_task(ADD, 6, 7)
            raise RuntimeError("changed my mind")
    except RuntimeError:
        pass


def _run(func: str, *args: Any, faithful: bool) -> tuple[Simulation, str]:
    sim = Simulation(START, [ClusterSpec(workers=2, retry=600)], seed=5, faithful=faithful)
    with sim:
        async_task(func, *args)
        sim.advance(hours=1)
    return sim, sim.timeline.dumps()


def _empty() -> None:
    """django-q2's tables as a fresh run finds them."""
    for model in (OrmQ, Task, Schedule):
        model.objects.all().delete()


def _mirror(sim: Simulation) -> Any:
    return sim._driver.mirror  # the driver's; None under faithful


@pytest.mark.parametrize("faithful", [False, True], ids=["accelerated", "faithful"])
def test_a_row_project_code_creates_during_a_task_is_claimed_when_visible(faithful) -> None:
    sim, _ = _run("tests.harness.test_mirror.plant_row", 10, faithful=faithful)
    (body,) = sim.timeline.of("task.started", func="tests.harness.test_mirror.plant_row")
    claimed = sim.timeline.of("task.claimed", task=PLANTED)
    assert [e.at for e in claimed] == [body.at + timedelta(minutes=10) + EPS]
    assert sim.timeline.of("task.finished", task=PLANTED, outcome="ok")
    mirror = _mirror(sim)
    if faithful:
        assert mirror is None
    else:
        assert mirror.invalidated["rows"] >= 1  # the ORM insert was seen, not reported
        assert mirror.reloads["rows"] >= 2  # at the start, and after the insert


@pytest.mark.parametrize("faithful", [False, True], ids=["accelerated", "faithful"])
def test_a_lock_project_code_moves_is_the_one_the_lookahead_waits_for(faithful) -> None:
    sim, _ = _run("tests.harness.test_mirror.delay_queued", 20, faithful=faithful)
    (body,) = sim.timeline.of("task.started", func="tests.harness.test_mirror.delay_queued")
    (enqueued,) = sim.timeline.of("task.enqueued", func=ADD)
    (claimed,) = sim.timeline.of("task.claimed", task=enqueued.data["task"])
    assert claimed.at == body.at + timedelta(minutes=20) + EPS  # not 1 µs after the enqueue
    if not faithful:
        assert _mirror(sim).invalidated["rows"] >= 1


def test_mirror_and_database_agree_on_every_run_above() -> None:
    """The three bodies replay to the same bytes with the mirror and with the SQL probe."""
    for name, args in (("plant_row", (10,)), ("delay_queued", (20,)), ("enqueue_rolled_back", ())):
        func = f"tests.harness.test_mirror.{name}"
        fast, fast_timeline = _run(func, *args, faithful=False)
        _empty()
        _, slow_timeline = _run(func, *args, faithful=True)
        _empty()
        assert fast_timeline == slow_timeline, name
        if name == "enqueue_rolled_back":
            mirror = _mirror(fast)
            assert mirror.reloads["rows"] >= 2  # the rolled-back enqueue was not trusted
            assert not fast.timeline.of("task.claimed", func=ADD)  # no phantom row claimed
