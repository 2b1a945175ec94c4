"""The sync floor: a scenario's task executions run inline, with no broker, scheduler or monitor.

A replay of ``month-in-production`` spends its time in three places: the platform's own task
bodies, django-q2 (scheduler, pusher, worker, monitor, ORM broker) and the driver. This module
measures the first alone, so the other two can be read as a ratio to it:

1. :func:`capturing` records every execution of a replay as django-q2's worker starts it (its
   ``pre_execute`` signal): the virtual instant, the function and a pickled copy of its args.
2. :func:`run_inline` replays the same scenario's set-up on a fresh database (the same fakes,
   the same ``setup`` steps, the same virtual start) and then, in time order, moves the clock to
   each load arrival and each captured execution and calls it directly. ``async_task`` inside a
   body or a load still signs and pickles its task, but the broker's ``enqueue`` is replaced by a
   no-op: no queue row, no scheduler, no pull, no monitor save.

What the floor is not: bodies see the same clock, fakes and fault plans, in the same order, but
a body that reads a queue or ``Task`` rows sees none. Executions whose outcome differs from the
replay's (``failed`` in each) are counted so the comparison stays honest.
"""

from __future__ import annotations

import pickle
import pydoc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_REAL = {"perf_counter": time.perf_counter}


@dataclass(frozen=True)
class Execution:
    """One task execution as the worker started it."""

    at: datetime
    func: str
    payload: bytes  # pickle of (args, kwargs), taken before the body could mutate them


@dataclass
class FloorResult:
    executions: int = 0
    failed: int = 0  # bodies that raised
    loads: int = 0  # load arrivals called between them
    wall_s: float = 0.0  # fresh database + set-up + the inline loop
    bodies_s: float = 0.0  # inside the task bodies only
    errors: dict[str, int] = field(default_factory=dict)  # exception type → count


@contextmanager
def capturing() -> Iterator[list[Execution]]:
    """Collect every execution django-q2's worker starts inside the block."""
    from django.utils import timezone
    from django_q.signals import pre_execute

    seen: list[Execution] = []

    def on_execute(sender: Any, func: Any, task: dict[str, Any], **_: Any) -> None:
        name = task["func"] if isinstance(task["func"], str) else _dotted(func)
        payload = pickle.dumps((tuple(task.get("args") or ()), dict(task.get("kwargs") or {})))
        seen.append(Execution(timezone.now(), name, payload))

    pre_execute.connect(on_execute, dispatch_uid="benchmarks.syncfloor")
    try:
        yield seen
    finally:
        pre_execute.disconnect(dispatch_uid="benchmarks.syncfloor")


def _dotted(func: Any) -> str:
    return f"{func.__module__}.{func.__qualname__}"


@contextmanager
def _no_broker() -> Iterator[None]:
    """``enqueue`` on every django-q2 broker class returns an id and stores nothing."""
    from django_q.brokers import Broker

    from harness.sim.broker import DeterministicORM

    counter = iter(range(1, 1 << 62))
    classes = {Broker, DeterministicORM, *Broker.__subclasses__()}
    saved = {cls: cls.__dict__.get("enqueue") for cls in classes}
    try:
        for cls in classes:
            cls.enqueue = lambda self, task: next(counter)  # type: ignore[method-assign]
        yield
    finally:
        for cls, original in saved.items():
            if original is None:
                delattr(cls, "enqueue")
            else:
                cls.enqueue = original  # type: ignore[method-assign]


def run_inline(scenario: Any, seed: int, executions: list[Execution]) -> FloorResult:
    """Set the scenario up on a fresh database and run ``executions`` (and the load arrivals up
    to the last of them) inline under the virtual clock; timed from the fresh database on."""
    import responses

    from harness.infra.freshdb import fresh_database
    from harness.run import fakes as fake_mounts
    from harness.run.deploy import deploy, load_arrivals
    from harness.run.runner import simulation_for
    from harness.scenario.resolve import resolve_paths

    result = FloorResult(executions=len(executions))
    end = executions[-1].at if executions else scenario.start
    t0 = _REAL["perf_counter"]()
    with fresh_database():
        resolved = resolve_paths(scenario)
        sim = simulation_for(scenario, seed)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps, sim:
            _, built, _ = fake_mounts.mount(scenario, sim, rsps, seed)
            deploy(sim, scenario, resolved, built)
            loads = [a for a in load_arrivals(scenario, resolved, seed) if a[0] <= end]
            result.loads = len(loads)
            with _no_broker():
                _loop(sim, _merged(loads, executions), result)
    result.wall_s = _REAL["perf_counter"]() - t0
    return result


def _merged(
    loads: list[tuple[Any, ...]], executions: list[Execution]
) -> list[tuple[datetime, int, int, Any]]:
    """Loads and executions in time order; at one instant loads first (they enqueue)."""
    steps = [(a[0], 0, i, a) for i, a in enumerate(loads)]
    steps += [(e.at, 1, i, e) for i, e in enumerate(executions)]
    return sorted(steps, key=lambda s: s[:3])


def _loop(sim: Any, steps: list[tuple[datetime, int, int, Any]], result: FloorResult) -> None:
    funcs: dict[str, Callable[..., Any] | None] = {}
    for at, kind, _, step in steps:
        if at > sim.clock.now():
            sim.clock.move_to(at)
        if kind == 0:
            _, _, fn, args, kwargs = step
            _call(fn, args, kwargs, result, timed=False)
            continue
        fn = funcs.setdefault(step.func, pydoc.locate(step.func))  # type: ignore[arg-type]
        args, kwargs = pickle.loads(step.payload)
        _call(fn, args, kwargs, result, timed=True)


def _call(fn: Any, args: Any, kwargs: Any, result: FloorResult, timed: bool) -> None:
    t0 = _REAL["perf_counter"]()
    try:
        if fn is None:
            raise ValueError("function not found")
        fn(*args, **kwargs)
    except Exception as exc:  # a body's failure is an outcome, as in the worker
        if timed:
            result.failed += 1
            name = type(exc).__name__
            result.errors[name] = result.errors.get(name, 0) + 1
    if timed:
        result.bodies_s += _REAL["perf_counter"]() - t0
