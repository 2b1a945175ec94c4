"""``harness baseline RUN.json`` and ``harness diff A.json B.json``: acting on known problems.

* ``baseline`` writes the fingerprints of every problem a saved run had, as a reviewable TOML
  file (stdout, or ``--out FILE``); ``replay|judge|gate|sweep --baseline FILE`` then fail only on
  problems it lacks (docs/scenarios.md, "Baselines").
* ``diff`` says which problems are new, fixed or unchanged between two saved runs and what
  changed in the work done; exit 1 when B has a problem A does not — "did my fix work".

Both judge the records again with this harness's checkers: no database, no project.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.output import writable

if TYPE_CHECKING:
    from harness.checkers import Verdict
    from harness.record.run import RunRecord


def register(sub: argparse._SubParsersAction) -> None:
    base = sub.add_parser("baseline", help="write the known problems of a saved run (TOML)")
    base.add_argument("run", help="a JSON file written by harness replay --json")
    base.add_argument("--out", default=None, help="write here instead of stdout")
    base.set_defaults(handler=cmd_baseline)

    diff = sub.add_parser("diff", help="new, fixed and unchanged problems between two runs")
    diff.add_argument("a", help="the run before (harness replay --json)")
    diff.add_argument("b", help="the run after")
    diff.add_argument("--json", dest="json_out", default=None, help="write the diff as JSON")
    diff.set_defaults(handler=cmd_diff)


def _judged(path: str) -> tuple[RunRecord, list[Verdict]]:
    from harness.cli.judge import load_record
    from harness.run.judge import judge

    record = load_record(path)
    record.baseline = None  # every problem, known or not
    return record, judge(record).verdicts


def cmd_baseline(args: argparse.Namespace) -> int:
    from harness.checkers.baseline import dumps, header

    writable(args.out, "--out")
    record, verdicts = _judged(args.run)
    problems = [p for v in verdicts for p in v.problems]
    text = dumps(problems, header(args.run, record.scenario.name, record.seed, record.end))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len({p.fingerprint for p in problems})} known problems written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from harness.report.diff import diff, print_diff

    writable(args.json_out, "--json")
    result = diff(_judged(args.a), _judged(args.b))
    print_diff(result, args.a, args.b)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n"
        Path(args.json_out).write_text(text, encoding="utf-8")
    return 1 if result.worse else 0
