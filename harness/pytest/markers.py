"""The plugin's markers: what they accept (read from the code they configure) and their help.

``qsim`` accepts exactly the keyword arguments of :class:`harness.sim.simulation.Simulation`;
``scenario`` a reference and ``seed``/``until``/``baseline``. Anything else is a
``pytest.UsageError`` that lists what is accepted, instead of a ``TypeError`` deep in a fixture.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import Any

import pytest

DEFAULT_START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday: weekly schedules read well
SCENARIO_OPTIONS = ("seed", "until", "baseline")


def qsim_options() -> dict[str, Any]:
    """Option → default, from ``Simulation.__init__`` (the one list)."""
    from harness.sim.simulation import Simulation

    params = list(inspect.signature(Simulation.__init__).parameters.values())[1:]
    return {p.name: (None if p.default is inspect.Parameter.empty else p.default) for p in params}


def help_lines() -> list[str]:
    options = ", ".join(f"{name}={default!r}" for name, default in qsim_options().items())
    return [
        f"qsim({options}): configure the in-process Django-Q2 simulation of the qsim fixture "
        "(start: an aware datetime or ISO string, default 2026-01-05 00:00 UTC)",
        "scenario(ref, seed=None, until=None, baseline=None): the scenario the `scenario` "
        "fixture replays (a name in ./scenarios, a path to a TOML file, or a "
        "harness.scenario.Scenario; baseline: a file of known problems)",
    ]


def qsim_kwargs(node: Any) -> dict[str, Any]:
    """The validated options of the closest ``qsim`` marker (``start`` always set)."""
    marker = node.get_closest_marker("qsim")
    options: dict[str, Any] = {}
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(
                f"@pytest.mark.qsim takes keyword options only (got {len(marker.args)} "
                f"positional); accepted: {', '.join(qsim_options())}"
            )
        options = dict(marker.kwargs)
    accepted = qsim_options()
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.qsim: unknown option {unknown[0]!r}; accepted: {', '.join(accepted)}"
        )
    start = options.get("start") or DEFAULT_START
    if isinstance(start, str):
        start = datetime.fromisoformat(start)
    if start.tzinfo is None:
        raise pytest.UsageError(f"@pytest.mark.qsim: start {start} has no UTC offset")
    options["start"] = start
    return options


def scenario_args(node: Any) -> tuple[Any, dict[str, Any]]:
    """The reference and options of the ``scenario`` marker."""
    marker = node.get_closest_marker("scenario")
    if marker is None or len(marker.args) != 1:
        raise pytest.UsageError("the scenario fixture needs @pytest.mark.scenario('name', ...)")
    unknown = sorted(set(marker.kwargs) - set(SCENARIO_OPTIONS))
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.scenario: unknown option {unknown[0]!r}; accepted: "
            f"{', '.join(SCENARIO_OPTIONS)}"
        )
    return marker.args[0], dict(marker.kwargs)
