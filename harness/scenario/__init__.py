"""Scenarios: a few lines of TOML (or the same dataclasses in Python) that describe a run.

A scenario names the Django settings module, the start instant and time zone, the duration and
seed, the setup to run under the virtual clock (management commands or dotted-path callables),
cluster-config overrides (on top of the project's ``Q_CLUSTER``), load generators, the HTTP
fakes to mount with their fault plans, per-task durations, and what the checkers expect.

Validation happens in two stages, both before anything runs or is written:

* :func:`parse` checks shape, keys, durations, times and cron strings (no Django needed);
* :func:`resolve_paths` imports every dotted path and checks every command name (needs Django).

Every problem is one :class:`ScenarioError` line: ``<file>: <key path>: <reason>``.
"""

from __future__ import annotations

from harness.durations import parse_duration
from harness.scenario.files import golden_path, locate, read, scenario_dirs, shipped
from harness.scenario.model import (
    FAKE_KINDS,
    SHAPES,
    FakeSpec,
    LoadSpec,
    Scenario,
    ScenarioError,
    SetupStep,
)
from harness.scenario.parse import parse, parse_until
from harness.scenario.reader import OptionsReader
from harness.scenario.resolve import resolve_paths

__all__ = [
    "FAKE_KINDS",
    "SHAPES",
    "FakeSpec",
    "LoadSpec",
    "OptionsReader",
    "Scenario",
    "ScenarioError",
    "SetupStep",
    "golden_path",
    "locate",
    "parse",
    "parse_duration",
    "parse_until",
    "read",
    "resolve_paths",
    "scenario_dirs",
    "shipped",
]
