"""``harness durations --from DATABASE_URL|export.json [--out FILE]``: run times from production.

Reads django-q2's own Task rows (:mod:`harness.infra.taskrows`: what their times mean, which
rows are kept) from the project's database or from ``manage.py dumpdata django_q.task``, and
writes per-function distributions (:mod:`harness.distributions`) that a scenario uses with
``[durations] from = "durations.toml"``. Exit 0 when written, 2 on bad input (one line, nothing
written). A database URL's password appears in no output.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from harness.cli.output import writable
from harness.errors import HarnessError

HEADER = """\
Task run times per function, measured from django-q2's own Task rows by `harness durations`.
Each number is seconds of a row's `stopped - started`. django-q2 sets `started` when a task is
ENQUEUED (async_task; the scheduler enqueues through it too), not when a worker picks it up, so
every number includes the time the task waited in the queue, and `started` and `stopped` may
come from two hosts' clocks. A redelivered task keeps its first `started` and its last
`stopped`, so rows with attempt_count > 1 (several attempts and the waits between them) are
left out, as are rows whose `stopped` is before `started`. `failed` counts the kept rows
whose function raised; their run times are in the quantiles too.
A scenario uses this file with [durations] from = "<path relative to the scenario>"; each task
attempt draws its run time from its function's quantiles (inverse CDF, linear between them)
with the run's seed. [durations.per_func] entries override it; `default` covers the rest."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "durations",
        help="per-function run times from django-q2's Task rows (a database or a dumpdata file)",
    )
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="DATABASE_URL|FILE",
        help="postgresql://… of the project's database, or the JSON of "
        "`manage.py dumpdata django_q.task` (or a list of {func, started, stopped})",
    )
    p.add_argument("--out", default="durations.toml", help="where to write (default: %(default)s)")
    p.set_defaults(handler=cmd_durations)


def cmd_durations(args: argparse.Namespace) -> int:
    from harness.distributions import Distribution, format_file
    from harness.infra.taskrows import is_url, measure, read_rows, redact

    writable(args.out, "--out")
    source: str = args.source
    if "://" in source and not is_url(source):
        scheme = source.split("://", 1)[0]
        raise HarnessError(
            f"--from: {scheme}:// is not read; give a postgresql:// URL, or export the table with "
            "`python manage.py dumpdata django_q.task --output export.json`"
        )
    shown = redact(source) if is_url(source) else source
    measured = measure(read_rows(source))
    if not measured.seconds:
        raise HarnessError(
            f"{shown}: no Task row times one execution ({measured.rows} rows; "
            f"{measured.excluded['retried']} retried, "
            f"{measured.excluded['negative']} stopped before started)"
        )
    functions = {
        func: Distribution.of(values, measured.failed.get(func, 0))
        for func, values in measured.seconds.items()
    }
    kept = sum(d.count for d in functions.values())
    header = HEADER.splitlines()
    if not measured.attempts_known:
        header.append("Some rows carried no attempt_count: they were kept as single attempts.")
    facts = {
        "from": shown,
        "read_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "measures": "stopped - started: queue wait + one execution, in seconds",
        "rows": measured.rows,
        "kept": kept,
        "excluded": dict(measured.excluded),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(format_file(functions, header, facts), encoding="utf-8")
    left = measured.rows - kept
    print(
        f"{out}: {len(functions)} function{'' if len(functions) == 1 else 's'} from {kept} "
        f"of {measured.rows} Task rows "
        f"({left} left out: {measured.excluded['retried']} retried, "
        f"{measured.excluded['negative']} stopped before started)"
    )
    return 0
