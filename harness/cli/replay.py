"""``harness replay | gate``: run scenarios from the terminal and gate CI on them.

* ``harness replay SCENARIO [--seed N] [--until T] [--json OUT] [--report DIR] [--settings MOD]``
  replays one scenario (a shipped name or a path to a TOML file) with a progress bar in
  simulated time, prints the per-task and per-checker summary, and exits 0 when every check
  holds, 1 when one fails, 2 on bad input (one line, nothing written).
* ``harness gate [SCENARIO ...] [--update]`` replays each scenario (all shipped ones by default)
  up to its ``gate_until`` and compares the timeline with its golden file, printing the first
  divergence with context; ``--update`` rewrites the goldens deliberately. Exit 1 when a
  timeline diverges or a check fails. ``-n`` (default ``auto``: one replay per CPU) replays
  them in parallel on pytest-xdist (:mod:`harness.run.parallel`), each on its own database: the
  same timelines, the same verdicts; ``-n 1`` replays them one after another in this process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness.cli.flags import FAITHFUL, Renamed, add_database, add_workers, workers
from harness.cli.output import Progress, writable, write_outputs
from harness.errors import RunInterrupted


def register(sub: argparse._SubParsersAction) -> None:
    replay = sub.add_parser("replay", help="replay one scenario and judge it")
    replay.add_argument("scenario", help="a shipped scenario name or a path to a .toml file")
    replay.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    replay.add_argument(
        "--until",
        default=None,
        help="stop early: an ISO time, an offset from start ('2d'), or 'gate' (gate_until)",
    )
    replay.add_argument("--json", dest="json_out", default=None, help="write the result as JSON")
    replay.add_argument("--report", default=None, help="write the HTML report into this directory")
    replay.add_argument("--settings", default=None, help="Django settings module (overrides)")
    add_database(replay)
    replay.add_argument("--timeline", default=None, help="write the timeline (JSON Lines) here")
    replay.add_argument("--no-progress", action="store_true", help="no progress bar")
    replay.add_argument("--faithful", action="store_true", help=FAITHFUL)
    replay.add_argument(
        "--baseline", default=None, help="known problems (harness baseline): fail only on new ones"
    )
    replay.add_argument(
        "--max-arrivals",
        type=int,
        default=None,
        help="refuse a load of more arrivals than this (default 1,000,000; HARNESS_MAX_ARRIVALS)",
    )
    replay.add_argument(
        "--bisect-exit",
        action="store_true",
        help="exit codes for git bisect run: 0 good, 1 bad, 125 when the replay cannot run here",
    )
    replay.set_defaults(handler=cmd_replay)

    gate = sub.add_parser("gate", help="compare scenario timelines with their goldens (CI gate)")
    gate.add_argument("scenarios", nargs="*", help="names or paths (default: every shipped one)")
    gate.add_argument("--update", action="store_true", help="rewrite the golden files")
    gate.add_argument("--settings", default=None, help="Django settings module (overrides)")
    add_database(gate)
    add_workers(gate)
    gate.add_argument(
        "--report", default=None, help="keep each replay's JSON and timeline in this directory"
    )
    gate.add_argument("--out", dest="report", action=Renamed, new="--report")
    gate.add_argument("--baseline", default=None, help="known problems: fail only on new ones")
    gate.add_argument("--faithful", action="store_true", help=FAITHFUL)
    gate.set_defaults(handler=cmd_gate)


# -- commands --------------------------------------------------------------------------------------
def cmd_replay(args: argparse.Namespace) -> int:
    from harness.run import runner
    from harness.scenario import parse_until, read

    scenario = read(args.scenario)
    until = parse_until(args.until, scenario, where="--until")
    writable(args.json_out, "--json")
    writable(args.timeline, "--timeline")
    writable(args.report, "--report")
    try:
        with Progress(not args.no_progress) as progress:
            result = runner.run(
                args.scenario,  # read again there: its reference goes in the reproduce line
                seed=args.seed,
                until=until,
                settings=args.settings,
                database=args.database,
                progress=lambda now, a, b: progress(now, a, b, scenario.zone),
                faithful=args.faithful,
                baseline=args.baseline,
                max_arrivals=args.max_arrivals,
            )
    except RunInterrupted as exc:
        write_outputs(exc.result, args.json_out, args.timeline, args.report)
        written = [p for p in (args.json_out, args.timeline, args.report) if p]
        said = f"; written, marked partial: {', '.join(written)}" if written else ""
        sys.stderr.write(f"harness: interrupted ({exc.signal}): a partial run{said}\n")
        return exc.exit_code
    write_outputs(result, args.json_out, args.timeline, args.report)
    return 0 if result.ok else 1


def cmd_gate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harness.scenario import golden_path, locate, read, shipped

    console = Console()
    refs = args.scenarios or list(shipped())
    scenarios = [(ref, read(ref)) for ref in refs]  # every file is validated before any run
    jobs = args.report or workers(args.workers, len(scenarios)) > 1  # else: here, one by one
    runs = _gate_parallel(args, scenarios) if jobs else _gate_serial(args, scenarios)
    failures = 0
    for (ref, scenario), (timeline, failed) in zip(scenarios, runs, strict=True):
        golden = golden_path(locate(ref))
        failures += _gate_one(console, args.update, golden, scenario, timeline, failed)
    return 1 if failures else 0


GateRun = tuple[str | None, list[tuple[str, str]]]  # timeline text (None: no run), failed checks


def _gate_serial(args: argparse.Namespace, scenarios: list[tuple[str, Any]]) -> list[GateRun]:
    from harness.run import runner

    out: list[GateRun] = []
    for ref, scenario in scenarios:
        until = scenario.start + scenario.gate_until if scenario.gate_until else None
        result = runner.run(
            ref,
            until=until,
            settings=args.settings,
            database=args.database,
            baseline=args.baseline,
            faithful=args.faithful,
        )
        out.append((result.timeline.dumps(), [(v.name, v.message) for v in result.failed]))
    return out


def _gate_parallel(args: argparse.Namespace, scenarios: list[tuple[str, Any]]) -> list[GateRun]:
    """Every scenario as one pytest-xdist item (harness.run.parallel); the same timelines."""
    if args.report:
        return _gate_jobs(args, scenarios, Path(args.report))
    with tempfile.TemporaryDirectory(prefix="harness-gate-") as folder:  # nothing left behind
        return _gate_jobs(args, scenarios, Path(folder))


def _gate_jobs(
    args: argparse.Namespace, scenarios: list[tuple[str, Any]], folder: Path
) -> list[GateRun]:
    from harness.names import slug
    from harness.run.parallel import Job, run_jobs

    jobs = [
        Job(
            id=f"{i:03d}-{slug(scenario.name)}",
            ref=ref,
            out=str((folder / f"{i:03d}-{slug(scenario.name)}.json").resolve()),
            until=(scenario.start + scenario.gate_until).isoformat()
            if scenario.gate_until
            else None,
            settings=args.settings,
            database=args.database,
            baseline=args.baseline,
            faithful=args.faithful,
        )
        for i, (ref, scenario) in enumerate(scenarios)
    ]
    out: list[GateRun] = []
    for outcome in run_jobs(jobs, folder, workers=str(workers(args.workers, len(jobs)))):
        if outcome.error:
            out.append((None, [("replay", outcome.error)]))
            continue
        timeline = outcome.job.timeline_path.read_text(encoding="utf-8")
        out.append((timeline, outcome.messages))
    return out


def _gate_one(
    console: Any,
    update: bool,
    golden: Path,
    scenario: Any,
    timeline: str | None,
    failed: list[tuple[str, str]],
) -> int:
    """Print one scenario's gate line; 1 when it fails."""
    from harness.record.timeline import first_divergence

    checks = "" if not failed else f"; {len(failed)} check(s) failed"
    if timeline is None:
        console.print(f"[red]✘ {scenario.name}[/]: the replay did not finish: {failed[0][1]}")
        return 1
    actual = timeline.splitlines()
    if update:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(timeline, encoding="utf-8")
        console.print(f"[bold]{scenario.name}[/]: golden written ({len(actual)} events){checks}")
        return 1 if failed else 0
    if not golden.exists():
        console.print(f"[red]✘ {scenario.name}[/]: no golden at {golden} (run with --update)")
        return 1
    expected = golden.read_text(encoding="utf-8").splitlines()
    div = first_divergence(expected, actual)
    if div is None and not failed:
        console.print(f"[green]✔ {scenario.name}[/]: {len(actual)} events match the golden")
        return 0
    if div is None:
        console.print(f"[red]✘ {scenario.name}[/]: timeline matches{checks}")
        for name, message in failed:
            console.print(f"    {name}: {message}", markup=False)
        return 1
    console.print(f"[red]✘ {scenario.name}[/]: diverges at line {div.line} of {golden}{checks}")
    for line in div.context:
        console.print(f"    {line}", markup=False, highlight=False)
    console.print(f"  - {div.expected or '<end of golden>'}", style="red", markup=False)
    console.print(f"  + {div.actual or '<end of run>'}", style="green", markup=False)
    return 1
