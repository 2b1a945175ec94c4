"""Fault-space search with shrinking: find the minimal fault plan that breaks a scenario.

Hypothesis generates fault plans (:func:`harness.strategies.fault_plans`) inside the space the
scenario's ``[explore]`` table allows, runs the scenario under each
(:func:`harness.explore_scenario.run`), and when a check fails lets Hypothesis shrink the plan:
fewer rules, fewer keys per rule, simpler values. The last failing run Hypothesis replays is the
minimal one; :func:`explore` returns it, ready to be written as a scenario file that replays the
failure. Same scenario + seed + budget → the same minimal plan.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

from harness.explore_scenario import RunResult, Scenario, run
from harness.strategies import fault_plans


class _CheckFailed(Exception):
    """Raised inside the Hypothesis test so that it shrinks the plan."""


@dataclass
class ExploreResult:
    """The outcome of a search: ``plan``/``result`` are the minimal failure, or None."""

    examples: int
    plan: dict[str, Any] | None = None
    result: RunResult | None = None
    failing_runs: int = 0
    history: list[int] = field(default_factory=list)  # rules per failing plan, in order

    @property
    def found(self) -> bool:
        return self.plan is not None


def plan_strategy(scenario: Scenario) -> Any:
    """The fault plans the scenario's ``[explore]`` table allows, relative to its start."""
    options = scenario.explore
    keys = tuple(sorted({str(t.args[0]) for t in scenario.tasks if t.args}))
    return fault_plans(
        min_rules=1,
        max_rules=options["max_rules"],
        fakes=options["fakes"],
        operations=options["operations"] or None,
        horizon=scenario.run_for,
        business_keys=keys,
        bounded=True,
        **({"types": options["types"]} if "types" in options else {}),
    )


def explore(
    scenario: Scenario,
    budget: int,
    seed_value: int = 0,
    *,
    runner: Callable[[Scenario], RunResult] = run,
) -> ExploreResult:
    """Search up to ``budget`` generated plans; shrink the first failure to a minimal plan."""
    outcome = ExploreResult(examples=0)

    @settings(
        max_examples=budget,
        database=None,
        deadline=None,
        derandomize=False,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
    )
    @seed(seed_value)
    @given(plan_strategy(scenario))
    def probe(plan: dict[str, Any]) -> None:
        outcome.examples += 1
        result = runner(scenario.with_faults(plan))
        if not result.ok:
            outcome.failing_runs += 1
            outcome.history.append(len(plan["rules"]))
            outcome.plan, outcome.result = plan, result
            raise _CheckFailed(result.failures[0])

    with contextlib.suppress(_CheckFailed):  # outcome holds the minimal failure
        probe()
    if outcome.plan is not None:
        _drop_needless_rules(scenario, outcome, runner)
    return outcome


def _drop_needless_rules(
    scenario: Scenario, outcome: ExploreResult, runner: Callable[[Scenario], RunResult]
) -> None:
    """Make the plan 1-minimal: remove any single rule whose removal still fails the checks.

    Hypothesis's shrinker sometimes keeps inert rules (a zero-millisecond latency ahead of the
    rule that matters); a last pass of single deletions removes them deterministically.
    """
    assert outcome.plan is not None
    rules = list(outcome.plan["rules"])
    i = 0
    while i < len(rules) and len(rules) > 1:
        candidate = {"rules": rules[:i] + rules[i + 1 :]}
        result = runner(scenario.with_faults(candidate))
        outcome.examples += 1
        if result.ok:
            i += 1
            continue
        rules, outcome.plan, outcome.result = candidate["rules"], candidate, result
        outcome.failing_runs += 1
        outcome.history.append(len(rules))


def replay_command(path: str, swaps: dict[str, str] | None = None) -> str:
    """The command that replays a written scenario."""
    extra = "".join(f" --replace {old}={new}" for old, new in (swaps or {}).items())
    return f"harness replay {path}{extra}"
