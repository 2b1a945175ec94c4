"""dq-harness: a deterministic testing and simulation harness for Django-Q2.

The public API is re-exported lazily so that settings modules can import
:mod:`harness.database` before Django is configured.
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "ClusterSpec": "harness.driver",
    "DatabaseUnavailable": "harness.database",
    "RunResult": "harness.runner",
    "Scenario": "harness.scenario",
    "ScenarioError": "harness.scenario",
    "Verdict": "harness.checkers",
    "load_scenario": "harness.scenario",
    "run_scenario": "harness.runner",
    "Durations": "harness.driver",
    "Simulation": "harness.driver",
    "SimulationError": "harness.driver",
    "TaskFailed": "harness.driver",
    "Timeline": "harness.timeline",
    "VirtualClock": "harness.clock",
    "all_enqueued": "harness.assertions",
    "assert_enqueued": "harness.assertions",
    "database_settings": "harness.database",
    "refute_enqueued": "harness.assertions",
}

__all__ = sorted(_EXPORTS)


_ALIASES = {"load_scenario": "load", "run_scenario": "run"}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), _ALIASES.get(name, name))
