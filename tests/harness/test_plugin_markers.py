"""The qsim marker takes Simulation's options and refuses others with the accepted list."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import pytest

from harness.errors import HarnessDeprecation
from harness.pytest.markers import help_lines, qsim_kwargs, qsim_options
from harness.sim.simulation import Simulation


class _Node:
    def __init__(self, mark) -> None:
        self.mark = mark

    def get_closest_marker(self, name):
        return self.mark.mark if self.mark is not None and name == "qsim" else None


def test_the_accepted_options_are_simulations_own():
    signature = inspect.signature(Simulation.__init__).parameters.values()
    params = [p.name for p in signature if p.kind is not p.VAR_KEYWORD][1:]  # not **renamed
    assert list(qsim_options()) == params
    assert all(f"{name}=" in help_lines()[0] for name in params)


def test_an_unknown_option_lists_the_accepted_ones():
    with pytest.raises(pytest.UsageError) as info:
        qsim_kwargs(_Node(pytest.mark.qsim(seeds=3)))
    message = str(info.value)
    assert "unknown option 'seeds'" in message and "seed" in message and "watchdog" in message


def test_an_old_spelling_is_read_with_a_deprecation():
    with pytest.warns(
        HarnessDeprecation, match=r"qsim\(watchdog_seconds=\) is deprecated: write watchdog="
    ):
        options = qsim_kwargs(_Node(pytest.mark.qsim(watchdog_seconds=3)))
    assert options["watchdog"] == 3 and "watchdog_seconds" not in options
    with pytest.warns(HarnessDeprecation, match="Simulation"):
        sim = Simulation(datetime(2026, 1, 5, tzinfo=UTC), watchdog_seconds=2.5)
    assert sim.watchdog == 2.5
    with pytest.raises(TypeError, match="unexpected keyword argument 'watchdogs'"):
        Simulation(datetime(2026, 1, 5, tzinfo=UTC), watchdogs=2)


def test_positional_options_and_naive_starts_are_refused():
    with pytest.raises(pytest.UsageError, match="keyword options only"):
        qsim_kwargs(_Node(pytest.mark.qsim(3)))
    with pytest.raises(pytest.UsageError, match="no UTC offset"):
        qsim_kwargs(_Node(pytest.mark.qsim(start="2026-03-01T00:00:00")))


def test_valid_options_pass_through():
    got = qsim_kwargs(_Node(pytest.mark.qsim(seed=4, start="2026-03-01T00:00:00+00:00")))
    assert got["seed"] == 4 and got["start"].isoformat() == "2026-03-01T00:00:00+00:00"
