"""``harness explore SCENARIO --budget N [--seed S]``: search fault plans, shrink, write a replay.

Exit codes follow the CLI contract: 0 = no plan within the budget broke a check; 1 = a check
failed — the minimal failing scenario is written and ``harness replay FILE`` printed (also when
the scenario fails without any added fault: then nothing is searched or written); 2 = bad input
(one line on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from harness.cli.flags import Renamed, add_database
from harness.errors import HarnessError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explore", help="search fault plans with Hypothesis; shrink a failure to a minimal scenario"
    )
    p.add_argument("scenario", help="a shipped scenario name or a path to a .toml file")
    p.add_argument("--budget", type=int, default=200, help="fault plans to try (default 200)")
    p.add_argument(
        "--search-seed", type=int, default=0, help="Hypothesis's seed for the search (default 0)"
    )
    p.add_argument("--seed", dest="search_seed", type=int, action=Renamed, new="--search-seed")
    p.add_argument(
        "--out", help="where to write the minimal failing scenario (default explore/<name>.toml)"
    )
    p.add_argument(
        "--operation",
        action="append",
        default=[],
        metavar="OP",
        help="fault only these operations (repeatable; default: every operation of every fake)",
    )
    p.add_argument("--max-rules", type=int, default=4, help="rules per plan (default 4)")
    p.add_argument("--settings", help="Django settings module (default: the scenario's)")
    add_database(p)
    p.set_defaults(handler=_cmd_explore)


def _cmd_explore(args: argparse.Namespace) -> int:
    from harness.run.runner import run
    from harness.scenario import read
    from harness.search.explore import FaultSpace, explore, rollback_runner, with_faults

    if args.budget < 1:
        raise HarnessError(f"--budget: must be at least 1, got {args.budget}")
    scenario = read(args.scenario)
    space = FaultSpace.of(scenario, args.operation, args.max_rules)
    out = Path(args.out or Path("explore") / f"{scenario.name}-minimal.toml")
    if out.exists() and out.is_dir():
        raise HarnessError(f"--out: {out} is a directory")

    where = {"settings": args.settings, "database": args.database}
    baseline = run(scenario, **where)  # bad paths/settings/setup: exit 2 here
    if not baseline.ok:
        print(f"FAIL without any added fault: {scenario.name}")
        print(baseline.explain())
        print(f"replay: {baseline.command}")
        return 1
    began = time.monotonic()
    with rollback_runner(scenario, args.settings, args.database) as runner:
        outcome = explore(scenario, args.budget, args.search_seed, space=space, runner=runner)
    elapsed = time.monotonic() - began
    if outcome.found:  # confirm on a fresh database, exactly as `harness replay` will run it
        outcome.result = run(with_faults(scenario, outcome.plan), **where)
        if outcome.result.ok:
            print(f"shrunk plan {outcome.plan} failed during the search but passes on a fresh")
            print("database: the failure depends on state a rollback does not reset; not written")
            return 1
    if not outcome.found:
        print(
            f"no failure in {outcome.examples} fault plans (search seed {args.search_seed}, "
            f"{elapsed:.1f} s): every check held"
        )
        return 0
    _write(args, scenario, outcome, out)
    rules = len(outcome.plan["rules"])
    print(
        f"FAIL after {outcome.examples} runs ({elapsed:.1f} s): shrunk to {rules} fault "
        f"rule(s), {outcome.faults_fired} fault(s) fired"
    )
    for line in outcome.failures:
        print(f"  {line}")
    print(f"minimal scenario: {out}")
    print(f"replay: harness replay {out}")
    return 1


def _write(args: argparse.Namespace, scenario, outcome, out: Path) -> None:
    from harness.search.explore import minimal_scenario_text

    header = "\n".join(
        [
            f"Written by: harness explore {args.scenario} --budget {args.budget} "
            f"--search-seed {args.search_seed}",
            f"Minimal fault plan after {outcome.examples} runs; it fails these checks:",
            *(f"  {line}" for line in outcome.failures),
        ]
    )
    text = minimal_scenario_text(scenario.source, outcome.plan, f"{scenario.name}-minimal", header)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    from harness.cli import main

    sys.exit(main(["explore", *sys.argv[1:]]))
