"""``harness scenarios [--json [FILE]]``: the project's named scenarios, never cut.

On a terminal a table that wraps long descriptions at word boundaries (names are never cut or
wrapped); piped, plain tab-separated lines; ``--json``, one object per scenario (to stdout, or
the file named, as ``--json FILE`` writes on every other command).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.cli.output import writable


def register(sub: argparse._SubParsersAction) -> None:
    ls = sub.add_parser("scenarios", help="list the project's scenarios (./scenarios/*.toml)")
    ls.add_argument(
        "--json",
        dest="json_out",
        nargs="?",
        const="-",
        default=None,
        help="write them as JSON to this file (no file, or -: to stdout)",
    )
    ls.set_defaults(handler=cmd_scenarios)


def cmd_scenarios(args: argparse.Namespace) -> int:
    from harness.durations import format_duration
    from harness.scenario import read, scenario_dirs, shipped

    rows = []
    for name, path in shipped().items():
        sc = read(name)
        rows.append(
            {
                "name": name,
                "path": str(path),
                "duration": format_duration(sc.duration),
                "seed": sc.seed,
                "description": " ".join(sc.description.split()),
            }
        )
    if args.json_out:
        text = json.dumps(rows, indent=2)
        if args.json_out == "-":
            print(text)
        else:
            writable(args.json_out, "--json")
            Path(args.json_out).write_text(text + "\n", encoding="utf-8")
        return 0
    if not rows:
        where = ", ".join(str(d) for d in scenario_dirs())
        print(f"no scenarios in {where}", file=sys.stderr)
        return 0
    if not sys.stdout.isatty():
        for row in rows:
            print(f"{row['name']}\t{row['duration']}\t{row['seed']}\t{row['description']}")
        return 0
    from rich.console import Console

    Console().print(table(rows))
    return 0


def table(rows: list[dict[str, Any]]) -> Any:
    """A rich table whose names are never cut and whose descriptions wrap between words."""
    from rich.table import Table

    out = Table(show_edge=False)
    widest = max(len(row["name"]) for row in rows)
    out.add_column("scenario", no_wrap=True, min_width=widest)
    out.add_column("duration", no_wrap=True)
    out.add_column("seed", no_wrap=True)
    out.add_column("description", ratio=1)
    for row in rows:
        description = " ".join(str(row["description"]).split())
        out.add_row(row["name"], row["duration"], str(row["seed"]), description)
    return out
