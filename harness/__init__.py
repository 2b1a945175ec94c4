"""dq-harness: a deterministic testing and simulation harness for Django-Q2.

The public API is re-exported lazily so that settings modules can import
:mod:`harness.infra.database` before Django is configured.
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "ClusterSpec": "harness.sim.cluster",
    "DatabaseUnavailable": "harness.infra.database",
    "Problem": "harness.checkers.problems",
    "Durations": "harness.sim.cluster",
    "RunResult": "harness.run.result",
    "Scenario": "harness.scenario",
    "ScenarioError": "harness.scenario",
    "Simulation": "harness.sim.simulation",
    "SimulationError": "harness.sim.simulation",
    "TaskFailed": "harness.sim.simulation",
    "Timeline": "harness.record.timeline",
    "Verdict": "harness.checkers",
    "VirtualClock": "harness.sim.clock",
    "all_enqueued": "harness.record.assertions",
    "assert_enqueued": "harness.record.assertions",
    "database_settings": "harness.infra.database",
    "invariant": "harness.checkers.invariants",
    "read_scenario": "harness.scenario",
    "refute_enqueued": "harness.record.assertions",
    "replay": "harness.run.runner",
    "rows": "harness.checkers.invariants",
}

__all__ = sorted(_EXPORTS)


_ALIASES = {"read_scenario": "read", "replay": "run"}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), _ALIASES.get(name, name))
