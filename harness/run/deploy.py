"""The project deployed at the scenario's virtual start, and its load to come.

In order, under the virtual clock at the start: broker rows a data migration left are taken
over; ``post_migrate`` is sent (as ``migrate`` does at a deploy at that instant); the setup
steps run (management commands, or callables — one with a ``fakes`` parameter gets the mounted
fakes); then every load's arrivals are scheduled. Any failure is one line (exit 2).
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable
from typing import Any

from harness.errors import UserCodeError
from harness.errors import one_line as _one_line
from harness.record.timeline import LOAD_CALLED, STARTUP_READY
from harness.scenario import Scenario


def deploy(
    sim: Any, scenario: Scenario, resolved: dict[str, Callable[..., Any]], fakes: dict[str, Any]
) -> None:
    """Migrate's leftovers, ``post_migrate``, and the setup steps, at the virtual start."""
    from harness.infra.freshdb import emit_post_migrate
    from harness.run.startup import replay_ready

    sim.adopt_queued(during="migrate")
    try:
        emit_post_migrate()
    except (Exception, SystemExit) as exc:
        raise UserCodeError(
            f"{scenario.source}: a post_migrate handler failed at the virtual start: "
            f"{_one_line(exc)}"
        ) from None
    for label, whole in replay_ready(scenario.startup_ready, sim.calls.scope):
        sim.timeline.add(sim.now(), STARTUP_READY, app=label, whole=whole)
    for i, step in enumerate(scenario.setup):
        try:
            with sim.calls.scope("setup"):
                _run_step(step, resolved, fakes)
        except (Exception, SystemExit) as exc:
            raise UserCodeError(
                f"{scenario.source}: setup[{i}] ({step.describe()}) failed: {_one_line(exc)}"
            ) from None


def _run_step(step: Any, resolved: dict[str, Callable[..., Any]], fakes: dict[str, Any]) -> None:
    from django.core.management import call_command

    if step.command:
        out = io.StringIO()
        call_command(step.command, *step.args, stdout=out, stderr=out)
        return
    fn = resolved[step.call]
    kwargs = dict(step.kwargs)
    if _wants_fakes(fn):
        kwargs["fakes"] = {kind: fake for kind, (fake, _) in fakes.items()}
    fn(*step.args, **kwargs)


def _wants_fakes(fn: Callable[..., Any]) -> bool:
    """A setup callable with a ``fakes`` parameter gets the mounted fakes (kind → instance)."""
    try:
        return "fakes" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def load_arrivals(
    scenario: Scenario, resolved: dict[str, Callable[..., Any]], seed: int
) -> list[tuple[Any, str, Callable[..., Any], list[Any], dict[str, Any]]]:
    """Every load's arrivals as ``(at, load name, function, args, kwargs)``, in load order."""
    from harness.scenario.arrivals import arrivals, fields_for, render

    out = []
    for spec in scenario.loads:
        fn = resolved[spec.call]
        for arrival in arrivals(spec, scenario, seed):
            fields = fields_for(spec, arrival, scenario, seed)
            out.append(
                (arrival.at, spec.name, fn, render(spec.args, fields), render(spec.kwargs, fields))
            )
    return out


def schedule_loads(
    sim: Any, scenario: Scenario, resolved: dict[str, Callable[..., Any]], seed: int
) -> None:
    """Every load's arrivals, at their seeded virtual times (``sim.at``)."""
    calls = {spec.name: spec.call for spec in scenario.loads}
    for at, name, fn, args, kwargs in load_arrivals(scenario, resolved, seed):
        sim.at(at, _arrive(sim, name, calls[name], fn), args, kwargs)


def _arrive(sim: Any, name: str, path: str, fn: Callable[..., Any]) -> Callable[[list, dict], None]:
    """A load arrival, recorded as a ``load.called`` event with its outcome: what it returned,
    or the exception it raised (the run goes on; the ``load-outcomes`` checker judges), and
    what it logged at WARNING or above."""
    from harness.record.timeline import brief

    def call(args: list[Any], kwargs: dict[str, Any]) -> None:
        event = sim.timeline.add(
            sim.now(), LOAD_CALLED, load=name, call=path, args=args, kwargs=kwargs
        )
        outcome: dict[str, Any] = {"outcome": "stopped"}  # until it returns or raises
        try:
            with sim.calls.scope("load") as scope:
                try:
                    value = fn(*args, **kwargs)
                except (Exception, SystemExit) as exc:  # the run goes on; the checker judges
                    outcome = {"outcome": "raised", "error": _one_line(exc)}
                else:
                    outcome = {"outcome": "returned"}
                    if value is not None:
                        outcome["returned"] = brief(value)
        finally:
            event.data.update(outcome)
        if scope.counts:
            event.data["logged"] = dict(sorted(scope.counts.items()))
            event.data["records"] = [r.as_list() for r in scope.records]
        if scope.slept:
            event.data["slept"] = scope.slept

    return call
