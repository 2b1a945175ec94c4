"""The plugin's markers: what they accept (read from the code they configure) and their help.

``qsim`` accepts exactly the keyword arguments of :class:`harness.sim.simulation.Simulation`;
``scenario`` a reference and the options of :func:`harness.replay` it passes on. Anything else is a
``pytest.UsageError`` that lists what is accepted, instead of a ``TypeError`` deep in a fixture.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.spellings import KEYWORDS, deprecated

DEFAULT_START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday: weekly schedules read well
SCENARIO_OPTIONS = ("seed", "until", "baseline", "database", "faithful")


def qsim_options() -> dict[str, Any]:
    """Option → default, from ``Simulation.__init__`` (the one list)."""
    from harness.sim.simulation import Simulation

    params = list(inspect.signature(Simulation.__init__).parameters.values())[1:]
    return {
        p.name: (None if p.default is inspect.Parameter.empty else p.default)
        for p in params
        if p.kind is not inspect.Parameter.VAR_KEYWORD  # **renamed: old spellings
    }


def help_lines() -> list[str]:
    options = ", ".join(f"{name}={default!r}" for name, default in qsim_options().items())
    return [
        f"qsim({options}): configure the in-process Django-Q2 simulation of the qsim fixture "
        "(start: an aware datetime or ISO string, default 2026-01-05 00:00 UTC)",
        "scenario(ref, seed=None, until=None, baseline=None, database=None, faithful=False): the "
        "scenario the `scenario` fixture replays (a name in ./scenarios, a path to a TOML file, "
        "or a harness.Scenario; the options of harness.replay)",
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
    for old in set(options) & set(KEYWORDS):  # an old spelling, read for one release
        deprecated(f"@pytest.mark.qsim({old}=)", f"{KEYWORDS[old]}=")
        options.setdefault(KEYWORDS[old], options.pop(old))
    accepted = qsim_options()
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.qsim: unknown option {unknown[0]!r}; accepted: {', '.join(accepted)}"
        )
    types = _qsim_types()
    for name, value in options.items():
        rule = types.get(name)
        if rule is not None and value is not None and not rule[0](value):
            raise pytest.UsageError(f"@pytest.mark.qsim: {name}={value!r}: expected {rule[1]}")
    options["start"] = _start(options.get("start") or DEFAULT_START)
    return options


def _start(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise pytest.UsageError(
                f"@pytest.mark.qsim: start={value!r}: not an ISO-8601 time like "
                "'2026-03-28T22:00:00+00:00'"
            ) from None
    if value.tzinfo is None:
        raise pytest.UsageError(f"@pytest.mark.qsim: start {value} has no UTC offset")
    return value


def _all(kind: Any) -> Any:
    return lambda v: isinstance(v, list | tuple) and all(isinstance(x, kind) for x in v)


def _qsim_types() -> dict[str, tuple[Any, str]]:
    """What each ``qsim`` option must be: a check and how to say it (values, not names)."""
    from harness.brokers import KINDS
    from harness.sim.clock import ENGINES
    from harness.sim.cluster import ClusterSpec, Durations
    from harness.sim.runaway import RunawayBudget

    number = lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v > 0  # noqa: E731
    flag = (lambda v: isinstance(v, bool), "True or False")
    return {
        "start": (lambda v: isinstance(v, str | datetime), "an aware datetime or an ISO string"),
        "clusters": (_all(ClusterSpec), "a list of harness.ClusterSpec"),
        "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
        "durations": (lambda v: isinstance(v, Durations), "a harness.Durations"),
        "engine": (lambda v: v in ENGINES, f"one of {', '.join(ENGINES)}"),
        "broker": (lambda v: v in KINDS, " or ".join(repr(name) for name in KINDS)),
        "watchdog": (number, "a number of seconds above 0"),
        "runaway": (lambda v: isinstance(v, RunawayBudget), "a harness.RunawayBudget"),
        "lock_helpers": (_all(str), "a list of dotted paths"),
        "django_q_log_level": (lambda v: isinstance(v, int | str), "a logging level"),
        **dict.fromkeys(
            ("raise_task_errors", "strict", "colocate", "network_guard", "faithful"), flag
        ),
    }


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
    kinds = {"seed": (int,), "until": (str, datetime), "baseline": (str, Path), "database": (str,)}
    for name, value in marker.kwargs.items():
        if name == "faithful":
            if not isinstance(value, bool):
                raise pytest.UsageError(f"@pytest.mark.scenario: faithful={value!r}: True or False")
            continue
        if value is not None and (not isinstance(value, kinds[name]) or isinstance(value, bool)):
            expected = " or ".join(k.__name__ for k in kinds[name])
            raise pytest.UsageError(f"@pytest.mark.scenario: {name}={value!r}: expected {expected}")
    return marker.args[0], dict(marker.kwargs)
