"""dq-harness: a deterministic testing and simulation harness for Django-Q2.

The public API is what this module exports (the list, with what each name is for, is
``docs/api.md``; a test holds the two equal), plus :mod:`harness.fakes` for writing fakes and
:mod:`harness.search.strategies` for Hypothesis. Every other module is internal and may change.

Names are imported lazily, so a settings module can call :func:`database_settings` before Django
is configured.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # scenarios: the TOML file's dataclasses, reading one, replaying it
    "Scenario": "harness.scenario.model",
    "LoadSpec": "harness.scenario.model",
    "FakeSpec": "harness.scenario.model",
    "SetupStep": "harness.scenario.model",
    "read_scenario": "harness.scenario.files",
    "replay": "harness.run.runner",
    "RunResult": "harness.run.result",
    "Verdict": "harness.checkers",
    "Problem": "harness.checkers.problems",
    "Timeline": "harness.record.timeline",
    # the simulation, in a test
    "Simulation": "harness.sim.simulation",
    "ClusterSpec": "harness.sim.cluster",
    "Durations": "harness.sim.cluster",
    "RunawayBudget": "harness.sim.runaway",
    "VirtualClock": "harness.sim.clock",
    "assert_enqueued": "harness.record.assertions",
    "assert_not_enqueued": "harness.record.assertions",
    "all_enqueued": "harness.record.assertions",
    # the project's own checks
    "invariant": "harness.checkers.invariants",
    "rows": "harness.checkers.invariants",
    # searching fault plans
    "explore": "harness.search.explore",
    "FaultSpace": "harness.search.explore",
    # settings
    "database_settings": "harness.infra.database",
    # errors (HarnessError is the root)
    "HarnessError": "harness.errors",
    "ScenarioError": "harness.errors",
    "UserCodeError": "harness.errors",
    "FaultPlanError": "harness.fakes.faults",
    "ClockError": "harness.sim.clock",
    "DatabaseUnavailable": "harness.infra.database",
    "SimulationError": "harness.sim.simulation",
    "TaskFailed": "harness.sim.simulation",
    "RunInterrupted": "harness.errors",
    "HarnessDeprecation": "harness.errors",
}
_ALIASES = {"read_scenario": "read", "replay": "run"}  # the public name → the module's own
_OLD = {"refute_enqueued": "harness.record.assertions"}  # old spellings (harness.spellings)

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    import importlib

    module = _EXPORTS.get(name)
    if module is None and name in _OLD:
        return getattr(importlib.import_module(_OLD[name]), name)  # warns when called
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    return getattr(importlib.import_module(module), _ALIASES.get(name, name))


def __dir__() -> list[str]:
    return __all__
