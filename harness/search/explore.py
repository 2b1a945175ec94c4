"""Fault-space search with shrinking: the minimal fault plan that breaks a scenario's checks.

Hypothesis generates fault plans (:func:`harness.search.strategies.fault_plans`) for the fakes the
scenario mounts, the scenario runner (:func:`harness.run.runner.run`: fresh database, the real
Django-Q2 code paths under the virtual clock, every checker) replays the scenario under each,
and when a checker fails Hypothesis shrinks the plan — fewer rules, fewer keys, simpler values.
A last pass removes any single rule whose removal still fails (1-minimal). The result is written
as an ordinary scenario file (the source TOML plus the plan's rules under
``[[fakes.<kind>.faults]]``), so ``harness replay FILE`` reproduces the failure.

Same scenario + seed + budget → the same minimal plan and the same file bytes.
"""

from __future__ import annotations

import contextlib
import copy
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, Phase, given, seed, settings

from harness.errors import HarnessError
from harness.fakes.operations import OPERATIONS
from harness.search.strategies import fault_plans

Runner = Callable[[Any], Any]  # harness.scenario.Scenario -> harness.run.runner.RunResult


class _CheckFailed(Exception):
    """Raised inside the Hypothesis test so that it shrinks the plan."""


@dataclass(frozen=True)
class FaultSpace:
    """Which faults the search may inject: fakes, operations per fake, rules per plan."""

    fakes: tuple[str, ...]
    operations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    max_rules: int = 4

    @classmethod
    def of(
        cls, scenario: Any, operations: list[str] | None = None, max_rules: int = 4
    ) -> FaultSpace:
        """Every built-in fake the scenario mounts (a project's own fake, ``app = …``, keeps
        its scenario's rules but is not searched); ``operations`` narrows the calls that may
        fail."""
        fakes = tuple(spec.name for spec in scenario.fakes if spec.app is None)
        if not fakes:
            raise HarnessError(
                f"{scenario.source}: mounts no built-in fakes: there is nothing to fault"
            )
        if max_rules < 1:
            raise HarnessError(f"--max-rules: must be at least 1, got {max_rules}")
        chosen: dict[str, tuple[str, ...]] = {}
        for op in operations or ():
            owners = [f for f in fakes if op in OPERATIONS[f]]
            if not owners:
                raise HarnessError(f"--operation: {op!r} is no operation of {', '.join(fakes)}")
            for owner in owners:
                chosen[owner] = (*chosen.get(owner, ()), op)
        if chosen:
            fakes = tuple(f for f in fakes if f in chosen)
        return cls(fakes, chosen, max_rules)

    def plans(self, horizon: Any, business_keys: tuple[str, ...] = ()) -> Any:
        return fault_plans(
            min_rules=1,
            max_rules=self.max_rules,
            fakes=self.fakes,
            operations=self.operations or None,
            horizon=horizon,
            business_keys=business_keys,
            bounded=True,
        )


@dataclass
class ExploreResult:
    """The outcome of a search: ``plan``/``result`` are the minimal failure, or None."""

    examples: int = 0
    plan: dict[str, Any] | None = None
    result: Any = None  # harness.run.runner.RunResult of the minimal plan
    failing_runs: int = 0
    history: list[int] = field(default_factory=list)  # rules per failing plan, in order

    @property
    def found(self) -> bool:
        return self.plan is not None

    @property
    def failures(self) -> list[str]:
        return [] if self.result is None else [f"{v.name}: {v.message}" for v in self.result.failed]

    @property
    def faults_fired(self) -> int:
        """Injected failures in the minimal run (latency does not count)."""
        if self.result is None or self.result.ledger is None:
            return 0
        return sum(1 for e in self.result.ledger.entries() if e.fault not in (None, "latency"))


def with_faults(scenario: Any, plan: dict[str, Any]) -> Any:
    """A copy of ``scenario`` whose fakes also apply ``plan``'s rules (after their own)."""
    faulted = copy.deepcopy(scenario)
    for spec in faulted.fakes:
        spec.faults = [*spec.faults, *(r for r in plan["rules"] if r.get("fake") == spec.name)]
    return faulted


def _business_keys(scenario: Any) -> tuple[str, ...]:
    """Plain string arguments of the loads: the usual business keys (domains, invoices)."""
    keys = {a for load in scenario.loads for a in load.args if isinstance(a, str) and "{" not in a}
    return tuple(sorted(k for k in keys if len(k) < 100))


def _default_runner(scenario: Any) -> Any:
    from harness.run.runner import run

    return run(scenario)


@contextlib.contextmanager
def rollback_runner(
    scenario: Any, settings_module: str | None = None, database: str | None = None
) -> Iterator[Runner]:
    """A runner for many replays of variants of ``scenario``: one fresh database for all of
    them, each replay inside a transaction that is rolled back.

    Why: :func:`harness.run.runner.run` creates and drops a database per replay (≈0.3 s of disk
    work on a busy machine); a search makes hundreds of replays. The replay itself is the
    scenario runner's (``harness.run.runner.replay_here``: same setup, loads, fakes, checkers).
    What a rollback cannot reset are sequences, so database ids may differ from a fresh replay;
    :func:`explore`'s caller confirms the minimal plan with :func:`harness.run.runner.run`.
    """
    from django.db import transaction

    from harness.infra.freshdb import fresh_database
    from harness.run import runner as scenario_runner

    scenario_runner.ensure_django(settings_module, scenario, database)

    def replay(variant: Any) -> Any:
        with transaction.atomic():
            result = scenario_runner.replay_here(variant, seed=variant.seed)
            transaction.set_rollback(True)
        return result

    with fresh_database():
        yield replay


def explore(
    scenario: Any,
    budget: int,
    search_seed: int = 0,
    *,
    space: FaultSpace | None = None,
    runner: Runner = _default_runner,
) -> ExploreResult:
    """Try up to ``budget`` generated plans (``search_seed``: Hypothesis's seed); shrink the
    first failure to a minimal plan."""
    space = space or FaultSpace.of(scenario)
    outcome = ExploreResult()

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
    @seed(search_seed)
    @given(space.plans(scenario.duration, _business_keys(scenario)))
    def probe(plan: dict[str, Any]) -> None:
        outcome.examples += 1
        result = runner(with_faults(scenario, plan))
        if not result.ok:
            outcome.failing_runs += 1
            outcome.history.append(len(plan["rules"]))
            outcome.plan, outcome.result = plan, result
            raise _CheckFailed(result.explain())

    with contextlib.suppress(_CheckFailed):  # outcome holds the minimal failure
        probe()
    if outcome.plan is not None:
        _drop_needless_rules(scenario, outcome, runner)
    return outcome


def _drop_needless_rules(scenario: Any, outcome: ExploreResult, runner: Runner) -> None:
    """Make the plan 1-minimal: remove any single rule whose removal still fails the checks.

    Hypothesis's shrinker sometimes keeps inert rules (a zero-millisecond latency ahead of the
    rule that matters); single deletions remove them deterministically.
    """
    assert outcome.plan is not None
    rules = list(outcome.plan["rules"])
    i = 0
    while i < len(rules) and len(rules) > 1:
        candidate = {"rules": rules[:i] + rules[i + 1 :]}
        result = runner(with_faults(scenario, candidate))
        outcome.examples += 1
        if result.ok:
            i += 1
            continue
        rules, outcome.plan, outcome.result = candidate["rules"], candidate, result
        outcome.failing_runs += 1
        outcome.history.append(len(rules))


def minimal_scenario_text(source: str | Path, plan: dict[str, Any], name: str, header: str) -> str:
    """The source scenario's TOML with ``plan``'s rules added to its fakes, renamed ``name``."""
    from harness.scenario import locate

    path = locate(source)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data["name"] = name
    # The written file lives elsewhere: its project paths must not depend on where.
    if "project_root" in data:
        data["project_root"] = str((path.parent / data["project_root"]).resolve())
    if "paths" in data:
        data["paths"] = [str((path.parent / p).resolve()) for p in data["paths"]]
    for rule in plan["rules"]:
        kind = rule["fake"]
        table = data.setdefault("fakes", {}).setdefault(kind, {})
        table.setdefault("faults", []).append({k: v for k, v in rule.items() if k != "fake"})
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + tomli_w.dumps(data)
