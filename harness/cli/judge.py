"""``harness judge RUN.json [--expect SCENARIO.toml] [--json OUT] [--report DIR]``.

Re-judges a saved run from what it recorded — the timeline, the ledger and the end-of-run
snapshot in the JSON ``harness replay --json`` wrote — with no database and no Django: the
proof that checkers are pure, and a CI step that judges an artifact against new expectations
(``--expect`` takes the ``[expect]`` table of another scenario file). Exit 0 when every check
holds, 1 when one fails, 2 on bad input. A project's own invariants (``[[expect.custom]]``)
import from the current directory, as ``replay`` finds the project: run it from the project root.
"""

from __future__ import annotations

import argparse
import json
import shlex
import tomllib
from pathlib import Path
from typing import Any

from harness.cli.output import writable, write_outputs
from harness.errors import HarnessError


def register(sub: argparse._SubParsersAction) -> None:
    judge = sub.add_parser("judge", help="re-judge a saved run (the JSON of replay --json)")
    judge.add_argument("run", help="a JSON file written by harness replay --json")
    judge.add_argument("--expect", default=None, help="judge with this scenario's [expect]")
    judge.add_argument("--json", dest="json_out", default=None, help="write the result as JSON")
    judge.add_argument("--report", default=None, help="write the HTML report into this directory")
    judge.add_argument("--baseline", default=None, help="known problems: fail only on new ones")
    judge.set_defaults(handler=cmd_judge)


def load_record(path: str) -> Any:
    """The run record inside a ``replay --json`` file; one line on what is wrong with it."""
    from harness.record.run import RunRecord

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read a run: {exc}") from None
    if not isinstance(data, dict) or "record" not in data:
        raise HarnessError(f"{path}: no run record in it (write one with harness replay --json)")
    try:
        return RunRecord.from_json(data["record"])
    except (KeyError, TypeError, ValueError) as exc:
        raise HarnessError(f"{path}: not a readable run record ({exc})") from None


def _expect(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read expectations: {exc}") from None
    return dict(data.get("expect", {}))


def cmd_judge(args: argparse.Namespace) -> int:
    from harness.run.judge import judge
    from harness.run.result import RunResult

    writable(args.json_out, "--json")
    writable(args.report, "--report")
    from harness.checkers.baseline import Baseline

    known = Baseline.read(args.baseline) if args.baseline else None
    record = load_record(args.run)
    from harness.run.project import add_paths

    add_paths(None)  # the project's own invariants import as in a replay from here
    expect = _expect(args.expect)
    verdicts, fixed = judge(record, expect, known)
    if expect is not None:
        record.scenario.expect = expect
        record.scenario.checks = None
    command = ["harness", "judge", args.run]
    command += ["--expect", args.expect] if args.expect else []
    command += ["--baseline", args.baseline] if args.baseline else []
    result = RunResult(record=record, verdicts=verdicts, command=shlex.join(command), fixed=fixed)
    write_outputs(result, args.json_out, report=args.report)
    return 0 if result.ok else 1
