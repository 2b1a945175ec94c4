"""What must happen: schedules that must exist and fire, task functions that must run.

No other checker can see an absence. Several of PRAHO's historical bugs were a schedule or a
task that never existed (a purge that only ran by hand, billing schedules never registered,
renewal notices with no entry point)::

    [expect.activity]
    schedules = ["purge-expired-tokens", "billing-*"]       # names or globs
    tasks = { "apps.billing.*" = "1/day", "apps.domains.tasks.renew" = "2/week" }

**Schedules.** Each name or glob must match a schedule as setup left them (a glob matching
nothing is a typo, not a pass: ``missing-schedule``). Each matched schedule must fire at least
once per *period* of the window: its own interval — MINUTES its ``minutes``, HOURLY an hour,
DAILY a day, WEEKLY 7 days, BIWEEKLY 14, MONTHLY 31, BIMONTHLY 62, QUARTERLY 92, YEARLY 366;
CRON the longest interval between two consecutive intended fires of its expression around the
window (:func:`harness.checkers.cron.expected_fires`, daylight-saving nights included). The rule,
in absolute time: no stretch between the start, each fire and the end may be longer than the
period plus the scheduler's grid (one 30 s pass, the cluster's phase and a second), plus one
hour for a daily-or-longer type (a daylight-saving day has 23 or 25 hours). No fire at all is
``never-fired``, a stretch too long a ``gap``. A window shorter than one period asks only that the
schedule exists; so does a ONCE row and one with no repeats left.

**Tasks.** ``"<glob>" = "N/<unit>"`` (unit: minute, hour, day, week, or a duration like
``6h``): the task functions matching the glob must *start* (``task.started``, retries included)
at least N times in each full period counted from the start (``[start, start + P)``,
``[start + P, start + 2P)``, …; a partial last period is not judged). Each period short of it is
one ``too-rare`` problem.

**Without configuration** it holds and says, as information, which schedules (as setup left
them) never fired, and which task functions of the project's ``tasks`` modules (the end-of-run
snapshot lists them: :func:`harness.run.snapshot.task_functions`) were never enqueued.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from harness.checkers import RunContext, Verdict
from harness.checkers.cron import PASS, SCHEDULE_PERIODS
from harness.checkers.problems import Problem
from harness.durations import parse_duration
from harness.record.timeline import SCHEDULE_FIRED, TASK_STARTED

NAME = "activity"
DOC = "named schedules exist and fire every period; named task functions run often enough"

UNITS = {
    "minute": dt.timedelta(minutes=1),
    "hour": dt.timedelta(hours=1),
    "day": dt.timedelta(days=1),
    "week": dt.timedelta(days=7),
}
CALENDAR = {"D", "W", "BW", "M", "BM", "Q", "Y"}  # wall-clock types: one hour for a DST day
DST = dt.timedelta(hours=1)
SHOWN = 8  # names listed in the message; the evidence lists all
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\S+)\s*$")


@dataclass(frozen=True)
class Options:
    schedules: tuple[str, ...] = ()  # names or globs that must exist and fire every period
    tasks: dict[str, tuple[int, dt.timedelta, str]] = field(default_factory=dict)  # glob → rate


def options(r: Any) -> Options:
    schedules = r.get("schedules", list, default=[])
    for i, name in enumerate(schedules):
        if not isinstance(name, str) or not name.strip():
            r.fail(f"expected a schedule name or glob, got {name!r}", f"schedules[{i}]")
    tasks = {}
    table = r.table("tasks")
    for glob, rate in table.data.items():
        table.seen.add(glob)
        tasks[glob] = parse_rate(rate, lambda reason, g=glob: table.fail(reason, g))
    table.done()
    return Options(tuple(schedules), tasks)


def parse_rate(rate: Any, fail: Any) -> tuple[int, dt.timedelta, str]:
    """``"2/week"`` → (2, 7 days, "week"); ``"1/6h"`` → (1, 6 hours, "6h")."""
    match = _RATE.match(rate) if isinstance(rate, str) else None
    if match is None:
        fail(f"{rate!r} is not a rate like '1/day', '2/week' or '1/6h'")
    count, unit = int(match.group(1)), match.group(2)
    period = UNITS.get(unit) or parse_duration(unit)
    if period is None or period <= dt.timedelta():
        fail(f"{unit!r} is not minute, hour, day, week or a duration like '6h'")
    if count < 1:
        fail("must be at least 1 per period")
    return count, period, unit


def check(ctx: RunContext) -> Verdict:
    opts = ctx.options(NAME)
    fired = _fires(ctx)
    problems: list[Problem] = []
    judged = 0
    for pattern in opts.schedules:
        rows = [r for r in ctx.schedules if fnmatch.fnmatchcase(_name(r), pattern)]
        if not rows:
            problems.append(_missing(pattern))
        for row in rows:
            judged += 1
            problems += _schedule(ctx, row, fired.get(_name(row), []))
    for glob, (count, period, unit) in opts.tasks.items():
        problems += _task_rate(ctx, glob, count, period, unit)
    info, notes = _information(ctx, fired)
    rules = judged + len(opts.tasks)
    held = f"{judged} schedules fired every period, {len(opts.tasks)} task rates met"
    ok = f"{held}; {info}" if rules else info
    first = problems[0].message if problems else ""
    return Verdict.of(
        NAME, problems, ok, f"{len(problems)} problems; first: {first}; {info}", notes
    )


def _name(row: dict[str, Any]) -> str:
    return row.get("name") or f"#{row['id']}"


def _fires(ctx: RunContext) -> dict[str, list[dt.datetime]]:
    out: dict[str, list[dt.datetime]] = {}
    for e in ctx.timeline.of(SCHEDULE_FIRED):
        out.setdefault(e.data["schedule"], []).append(e.at)
    return out


def _missing(pattern: str) -> Problem:
    glob = any(c in pattern for c in "*?[")
    cause = "matches no schedule after setup" if glob else "no schedule of this name after setup"
    return Problem(NAME, "missing-schedule", pattern, cause, f"{pattern}: {cause}")


def schedule_period(row: dict[str, Any], ctx: RunContext) -> dt.timedelta | None:
    """The schedule's own period (None: a ONCE row, one without repeats, or an unknown type)."""
    kind = row.get("schedule_type")
    if row.get("repeats") == 0 or kind == "O":
        return None
    if kind == "I":
        return dt.timedelta(minutes=row.get("minutes") or 1)
    if kind == "C":
        return cron_period(row.get("cron") or "", ctx)
    return SCHEDULE_PERIODS.get(kind)


def cron_period(expr: str, ctx: RunContext) -> dt.timedelta | None:
    """The longest interval between consecutive intended fires of ``expr``, from the last fire
    before the start to the first after the end (widening the search until both exist)."""
    from harness.checkers.cron import expected_fires

    for margin in (2, 8, 32, 367, 1500):
        pad = dt.timedelta(days=margin)
        try:
            fires = expected_fires(expr, ctx.zone, ctx.start - pad, ctx.end + pad)
        except Exception:  # an invalid expression: the scheduler's own error is the finding
            return None
        before = [t for t in fires if t <= ctx.start]
        after = [t for t in fires if t > ctx.end]
        if before and after:
            inside = [before[-1], *[t for t in fires if ctx.start < t <= ctx.end], after[0]]
            return max(b - a for a, b in itertools.pairwise(inside))
    return None


def _schedule(ctx: RunContext, row: dict[str, Any], fires: list[dt.datetime]) -> list[Problem]:
    name = _name(row)
    period = schedule_period(row, ctx)
    if period is None or ctx.end - ctx.start < period:
        return []  # existence is all a window shorter than one period can ask
    phase = max([s.phase for s in ctx.clusters] or [0])
    allowed = period + PASS + dt.timedelta(seconds=1 + phase)
    if row.get("schedule_type") in CALENDAR:
        allowed += DST
    every = _kind(row)
    window = f"{ctx.when(ctx.start)} – {ctx.when(ctx.end)}"
    if not fires:
        cause = "never fired in the window"
        return [Problem(NAME, "never-fired", name, cause, f"{name} ({every}) {cause} {window}")]
    out = []
    marks = [ctx.start, *sorted(fires), ctx.end]
    for a, b in itertools.pairwise(marks):
        if b - a > allowed:
            cause = "no fire for longer than its period"
            out.append(
                Problem(
                    NAME,
                    "gap",
                    name,
                    cause,
                    f"{name} ({every}): no fire from {ctx.when(a)} to {ctx.when(b)} "
                    f"({_span(b - a)})",
                    a,
                )
            )
    return out


def _task_rate(
    ctx: RunContext, glob: str, count: int, period: dt.timedelta, unit: str
) -> list[Problem]:
    starts = sorted(
        e.at
        for e in ctx.timeline.of(TASK_STARTED)
        if fnmatch.fnmatchcase(e.data.get("func") or "", glob)
    )
    out = []
    a = ctx.start
    while a + period <= ctx.end:
        b = a + period
        ran = sum(a <= t < b for t in starts)
        if ran < count:
            cause = f"ran fewer than {count} per {unit}"
            message = (
                f"{glob}: ran {ran} time{'s' if ran != 1 else ''} from {ctx.when(a)} to "
                f"{ctx.when(b)} (at least {count} per {unit})"
            )
            out.append(Problem(NAME, "too-rare", glob, cause, message, a))
        a = b
    return out


def _information(ctx: RunContext, fired: dict[str, list[dt.datetime]]) -> tuple[str, list[str]]:
    """The message part and the notes: schedules that never fired, task functions of the
    project's task modules that were never enqueued (information: they fail nothing)."""
    silent = sorted({_name(r) for r in ctx.schedules if not fired.get(_name(r))})
    enqueued = {t.enqueued.data["func"] for t in ctx.history.enqueued().values()}
    unused = [f for f in ctx.record.snapshot.task_functions if f not in enqueued]
    parts = []
    if ctx.schedules:
        parts.append(_listed(silent, "schedule", "never fired", "every schedule fired"))
    if ctx.record.snapshot.task_functions:
        everyone = "every task function was enqueued"
        parts.append(_listed(unused, "task function", "never enqueued", everyone))
    notes = [f"schedule {n} never fired in the window (information)" for n in silent]
    notes += [f"task function {f} was never enqueued in the window (information)" for f in unused]
    return "; ".join(parts) or "no schedules, no task functions found", notes


def _listed(names: list[str], what: str, fate: str, none: str) -> str:
    if not names:
        return none
    shown = ", ".join(names[:SHOWN])
    if len(names) > SHOWN:
        shown += f", … {len(names) - SHOWN} more"
    return f"{len(names)} {what}{'s' if len(names) != 1 else ''} {fate}: {shown}"


KINDS = {"H": "hourly", "D": "daily", "W": "weekly", "BW": "biweekly", "M": "monthly",
         "BM": "bimonthly", "Q": "quarterly", "Y": "yearly"}  # fmt: skip


def _kind(row: dict[str, Any]) -> str:
    """``every 30 min``, ``daily``, ``cron '0 9 * * 1'``: the schedule as its row says."""
    kind = row.get("schedule_type")
    if kind == "I":
        return f"every {row.get('minutes') or 1} min"
    if kind == "C":
        return f"cron {row.get('cron')!r}"
    return KINDS.get(kind, str(kind))


def _span(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 2:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"
