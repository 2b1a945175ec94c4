"""``harness replay | gate | scenarios``: run scenarios from the terminal and gate CI on them.

* ``harness replay SCENARIO [--seed N] [--until T] [--json OUT] [--report DIR] [--settings MOD]``
  replays one scenario (a shipped name or a path to a TOML file) with a progress bar in
  simulated time, prints the per-task and per-checker summary, and exits 0 when every check
  holds, 1 when one fails, 2 on bad input (one line, nothing written).
* ``harness gate [SCENARIO ...] [--update]`` replays each scenario (all shipped ones by default)
  up to its ``gate_until`` and compares the timeline with its golden file, printing the first
  divergence with context; ``--update`` rewrites the goldens deliberately. Exit 1 when a
  timeline diverges or a check fails.
* ``harness scenarios`` lists the shipped scenarios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from harness.errors import HarnessError


def register(sub: argparse._SubParsersAction) -> None:
    replay = sub.add_parser("replay", help="replay one scenario and judge it")
    replay.add_argument("scenario", help="a shipped scenario name or a path to a .toml file")
    replay.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    replay.add_argument(
        "--until", default=None, help="stop early: an ISO time or an offset from start ('2d')"
    )
    replay.add_argument("--json", dest="json_out", default=None, help="write the result as JSON")
    replay.add_argument("--report", default=None, help="write the HTML report into this directory")
    replay.add_argument("--settings", default=None, help="Django settings module (overrides)")
    replay.add_argument(
        "--database",
        choices=("project", "harness"),
        default=None,
        help="'project': the settings' own PostgreSQL (default); 'harness': DATABASE_URL or "
        "the embedded server",
    )
    replay.add_argument("--timeline", default=None, help="write the timeline (JSON Lines) here")
    replay.add_argument("--no-progress", action="store_true", help="no progress bar")
    replay.set_defaults(handler=cmd_replay)

    gate = sub.add_parser("gate", help="compare scenario timelines with their goldens (CI gate)")
    gate.add_argument("scenarios", nargs="*", help="names or paths (default: every shipped one)")
    gate.add_argument("--update", action="store_true", help="rewrite the golden files")
    gate.add_argument("--settings", default=None, help="Django settings module (overrides)")
    gate.add_argument("--database", choices=("project", "harness"), default=None)
    gate.set_defaults(handler=cmd_gate)

    ls = sub.add_parser("scenarios", help="list the shipped scenarios")
    ls.set_defaults(handler=cmd_scenarios)


# -- helpers ---------------------------------------------------------------------------------------
def parse_until(text: str | None, scenario: Any) -> dt.datetime | None:
    """``--until``: an aware or local ISO time, or an offset from the scenario start."""
    from harness.scenario import parse_duration

    if text is None:
        return None
    offset = parse_duration(text)
    if offset is not None and not text.strip().replace(".", "").isdigit():
        return scenario.start + offset
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise HarnessError(
            f"--until {text!r} is neither an ISO time nor an offset like '2d' or '6h'"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=scenario.zone)
    if when <= scenario.start:
        raise HarnessError(f"--until {text} is not after the scenario start {scenario.start}")
    return when


def _writable(path: str | None, what: str) -> None:
    """Refuse an output path up front, so a bad one fails before the run, with nothing written."""
    if path is None:
        return
    target = Path(path)
    parent = target if what == "--report" else target.parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise HarnessError(f"{what} {path}: {probe} is not a directory")
    if what != "--report" and target.is_dir():
        raise HarnessError(f"{what} {path} is a directory")


def golden_for(ref: str, scenario: Any) -> Path:
    from harness.scenario import golden_path, locate

    return golden_path(locate(ref))


class _Progress:
    """A rich progress bar in simulated time (on stderr)."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.plain = enabled and not self.console.is_terminal
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[now]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.task: Any = None
        self.last_day: str | None = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.__exit__(*exc)

    def __call__(self, now: dt.datetime, start: dt.datetime, end: dt.datetime, zone: Any) -> None:
        label = now.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        if self.enabled:
            total = (end - start).total_seconds()
            if self.task is None:
                self.task = self.bar.add_task("simulating", total=total, now=label)
            self.bar.update(self.task, completed=(now - start).total_seconds(), now=label)
        elif self.plain:
            day = label[:10]
            if day != self.last_day:  # one line per simulated day when not on a terminal
                self.last_day = day
                done = 100 * (now - start) / (end - start)
                sys.stderr.write(f"simulating {label} ({done:.0f}%)\n")
                sys.stderr.flush()


# -- commands --------------------------------------------------------------------------------------
def cmd_replay(args: argparse.Namespace) -> int:
    from harness.report import print_summary, write_html
    from harness.run import runner
    from harness.scenario import load

    scenario = load(args.scenario)
    until = parse_until(args.until, scenario)
    _writable(args.json_out, "--json")
    _writable(args.timeline, "--timeline")
    _writable(args.report, "--report")
    with _Progress(not args.no_progress) as progress:
        result = runner.run(
            scenario,
            seed=args.seed,
            until=until,
            settings=args.settings,
            database=args.database,
            ref=args.scenario,
            progress=lambda now, a, b: progress(now, a, b, scenario.zone),
        )
    print_summary(result)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(
            json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    if args.timeline:
        result.timeline.write(args.timeline)
    if args.report:
        path = write_html(result, args.report)
        print(f"report: {path.resolve()}")
    return 0 if result.ok else 1


def cmd_gate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harness.record.timeline import first_divergence
    from harness.run import runner
    from harness.scenario import load, shipped

    console = Console()
    refs = args.scenarios or list(shipped())
    scenarios = [(ref, load(ref)) for ref in refs]  # every file is validated before any run
    failures = 0
    for ref, scenario in scenarios:
        until = scenario.start + scenario.gate_until if scenario.gate_until else None
        result = runner.run(
            scenario, until=until, settings=args.settings, database=args.database, ref=ref
        )
        golden = golden_for(ref, scenario)
        actual = result.timeline.dumps().splitlines()
        checks = "" if result.ok else f"; {len(result.failed)} check(s) failed"
        if args.update:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(result.timeline.dumps(), encoding="utf-8")
            console.print(
                f"[bold]{scenario.name}[/]: golden written ({len(actual)} events){checks}"
            )
            failures += 0 if result.ok else 1
            continue
        if not golden.exists():
            console.print(f"[red]✘ {scenario.name}[/]: no golden at {golden} (run with --update)")
            failures += 1
            continue
        expected = golden.read_text(encoding="utf-8").splitlines()
        div = first_divergence(expected, actual)
        if div is None and result.ok:
            console.print(f"[green]✔ {scenario.name}[/]: {len(actual)} events match the golden")
            continue
        failures += 1
        if div is None:
            console.print(f"[red]✘ {scenario.name}[/]: timeline matches{checks}")
            for v in result.failed:
                console.print(f"    {v.name}: {v.message}", markup=False)
            continue
        console.print(f"[red]✘ {scenario.name}[/]: diverges at line {div.line} of {golden}{checks}")
        for line in div.context:
            console.print(f"    {line}", markup=False, highlight=False)
        console.print(f"  - {div.expected or '<end of golden>'}", style="red", markup=False)
        console.print(f"  + {div.actual or '<end of run>'}", style="green", markup=False)
    return 1 if failures else 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from harness.scenario import load, shipped

    table = Table(show_edge=False)
    for col in ("scenario", "duration", "seed", "description"):
        table.add_column(col)
    for name in shipped():
        sc = load(name)
        first = " ".join(sc.description.split())
        table.add_row(name, str(sc.duration), str(sc.seed), first[:90])
    Console().print(table)
    return 0
