"""``harness sweep SCENARIO --seeds 1..200``: one scenario over many seeds, in parallel.

Each seed is one replay on pytest-xdist (:mod:`harness.run.parallel`): ``-n auto`` uses every
local CPU, ``--tx`` sends replays to other hosts (each needs the project and the harness
installed; see docs/scenarios.md). Every seed's run JSON and timeline land in ``--report``; the
command prints the failing seeds with the command that reproduces each one alone, and exits 1
when any seed failed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from harness.cli.flags import FAITHFUL, Renamed, add_database, add_workers, workers
from harness.errors import HarnessError

DEFAULT_OUT = Path("reports") / "sweep"


def register(sub: argparse._SubParsersAction) -> None:
    sweep = sub.add_parser("sweep", help="replay one scenario over many seeds, in parallel")
    sweep.add_argument("scenario", help="a shipped scenario name or a path to a .toml file")
    sweep.add_argument("--seeds", required=True, help="seeds: 1..200, 3,7,9 or a mix")
    sweep.add_argument(
        "--until",
        default=None,
        help="end of each replay: an offset (6h), an ISO time, or 'gate' (the gate horizon)",
    )
    add_workers(sweep)
    sweep.add_argument(
        "--tx", action="append", default=[], help="pytest-xdist gateway spec (repeatable)"
    )
    sweep.add_argument(
        "--report", default=None, help=f"where runs and timelines go (default {DEFAULT_OUT}/NAME)"
    )
    sweep.add_argument("--out", dest="report", action=Renamed, new="--report")
    sweep.add_argument("--settings", default=None, help="Django settings module (overrides)")
    add_database(sweep)
    sweep.add_argument("--baseline", default=None, help="known problems: fail only on new ones")
    sweep.add_argument("--faithful", action="store_true", help=FAITHFUL)
    sweep.set_defaults(handler=cmd_sweep)


def until_text(value: str | None, scenario: Any, where: str) -> str | None:
    """``--until`` as the ISO instant each replay ends at (validated here, before any run)."""
    from harness.scenario import parse_until

    until = parse_until(value, scenario, where=where)
    return until.isoformat() if until else None


def cmd_sweep(args: argparse.Namespace) -> int:
    from harness.run.parallel import Job, parse_seeds, run_jobs
    from harness.scenario import read

    scenario = read(args.scenario)
    if args.baseline:
        from harness.checkers.baseline import Baseline

        Baseline.read(args.baseline)  # a bad file is one line now, not one per seed
        args.baseline = str(Path(args.baseline).resolve())
    seeds = parse_seeds(args.seeds)
    until = until_text(args.until, scenario, "--until")
    n = workers(args.workers, len(seeds))
    from harness.names import slug

    out = Path(args.report) if args.report else DEFAULT_OUT / slug(scenario.name)
    if out.exists() and not out.is_dir():
        raise HarnessError(f"--report {out}: exists and is not a folder")
    jobs = [
        Job(
            id=f"seed-{seed}",
            ref=args.scenario,
            out=str((out / f"seed-{seed}.json").resolve()),
            seed=seed,
            until=until,
            settings=args.settings,
            database=args.database,
            baseline=args.baseline,
            faithful=args.faithful,
        )
        for seed in seeds
    ]
    t0 = time.monotonic()
    outcomes = run_jobs(jobs, out, workers=str(n), tx=args.tx)
    return print_sweep(scenario.name, outcomes, time.monotonic() - t0, out)


def print_sweep(name: str, outcomes: list[Any], wall: float, out: Path) -> int:
    """The failing seeds with their reproduce commands; exit 1 when any seed failed."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    bad = [o for o in outcomes if not o.ok]
    if bad:
        table = Table(title=f"{name}: failing seeds")
        table.add_column("seed", justify="right")
        table.add_column("failed", overflow="fold")
        for o in bad:
            table.add_row(str(o.job.seed), o.error or ", ".join(o.failed))
        console.print(table)
        console.print("reproduce one alone:", style="bold")
        for o in bad:  # whole lines, never wrapped: they are for copy and paste
            command = o.command or f"harness replay {o.job.ref} --seed {o.job.seed}"
            console.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"{name}: {len(outcomes)} seeds, {len(outcomes) - len(bad)} passed, {len(bad)} failed "
        f"in {wall:.1f} s; runs and timelines in {out}",
        markup=False,
        highlight=False,
    )
    return 1 if bad else 0
