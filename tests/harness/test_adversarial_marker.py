"""Adversarial marker arguments: each row is a marker and what must be said about it (a
``pytest.UsageError`` naming the option and what it expects), never an AttributeError or
ValueError from deep inside a fixture. A new case is a row."""

from __future__ import annotations

import pytest

from harness.pytest.markers import qsim_kwargs, scenario_args


class _Node:
    def __init__(self, name: str, mark) -> None:
        self.name, self.mark = name, mark

    def get_closest_marker(self, name):
        return self.mark.mark if name == self.name else None


QSIM = [
    ("start-not-a-date", {"start": "not-a-date"}, "start='not-a-date': not an ISO-8601 time"),
    ("start-a-number", {"start": 12345}, "start=12345: expected an aware datetime or an ISO"),
    ("start-naive", {"start": "2026-03-01T00:00:00"}, "has no UTC offset"),
    ("clusters-a-string", {"clusters": "oops"}, "clusters='oops': expected a list of"),
    ("clusters-of-dicts", {"clusters": [{"workers": 2}]}, "expected a list of harness.Cluster"),
    ("seed-a-string", {"seed": "7"}, "seed='7': expected an integer"),
    ("seed-a-bool", {"seed": True}, "seed=True: expected an integer"),
    ("engine-unknown", {"engine": "sundial"}, "expected one of time-machine, freezegun"),
    ("broker-unknown", {"broker": "kafka"}, "expected 'orm' or 'redis'"),
    ("watchdog-negative", {"watchdog": -1}, "expected a number of seconds above 0"),
    ("strict-a-string", {"strict": "yes"}, "strict='yes': expected True or False"),
    ("durations-a-dict", {"durations": {"a": 1}}, "expected a harness.Durations"),
]


@pytest.mark.parametrize(("case", "options", "said"), QSIM, ids=[row[0] for row in QSIM])
def test_qsim_marker(case: str, options: dict, said: str) -> None:
    with pytest.raises(pytest.UsageError) as info:
        qsim_kwargs(_Node("qsim", pytest.mark.qsim(**options)))
    assert said in str(info.value)
    assert str(info.value).startswith("@pytest.mark.qsim: ")


SCENARIO = [
    ("no-reference", (), {}, "needs @pytest.mark.scenario('name', ...)"),
    ("unknown-option", ("tiny",), {"seeds": 3}, "unknown option 'seeds'"),
    ("seed-a-string", ("tiny",), {"seed": "3"}, "seed='3': expected int"),
    ("until-a-number", ("tiny",), {"until": 3}, "until=3: expected str or datetime"),
    ("baseline-a-number", ("tiny",), {"baseline": 1}, "baseline=1: expected str or Path"),
]


@pytest.mark.parametrize(
    ("case", "args", "options", "said"), SCENARIO, ids=[row[0] for row in SCENARIO]
)
def test_scenario_marker(case: str, args: tuple, options: dict, said: str) -> None:
    with pytest.raises(pytest.UsageError) as info:
        scenario_args(_Node("scenario", pytest.mark.scenario(*args, **options)))
    assert said in str(info.value)
