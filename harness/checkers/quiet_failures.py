"""Quiet failures: executions django-q2 counted as successes that said otherwise.

A task that catches its own exception, logs it and returns ``{"success": False}`` is a success to
django-q2 (no retry, no Failure row; its result row is pruned later by ``save_limit``). One PRAHO
task failed that way every night of a replayed week while every other verdict held. This checker
fails on an execution that finished ``ok`` and returned an error-shaped result (default shapes
``{success = false}``, ``{ok = false}``, ``{error = "*"}``; ``"*"``: present and not empty), or
a value whose text matches one of ``patterns`` (e.g. ``"^Err\\("`` for a Result type); the
evidence quotes the first record the execution logged at ``level`` or above.

An execution that returned normally but logged at ``level`` or above (default ``"ERROR"``, from
any logger but django-q2's) is listed too; it fails the run only with ``logs = "fail"`` — a
health check that logs a server it found down has done its job.

A project whose own machinery retries what it reports as failed (a job table swept every 15
minutes) says so with ``ignore``: the failures stay visible in the report, not in the verdict.

Options::

    [expect.quiet-failures]
    shapes = [{ success = false }, { status = "failed" }]   # replaces the defaults
    patterns = ["^Err\\\\("]
    level = "WARNING"                  # ERROR (default), WARNING or CRITICAL
    logs = "fail"                      # "report" (default): logged errors alone do not fail
    ignore = ["apps.audit.*"]          # globs of task functions not judged
    ignore_messages = ["retrying in"]  # regular expressions over a record's message
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from harness.checkers import RunContext, Verdict, call_repr, enqueued_calls
from harness.checkers.problems import Problem, steady
from harness.record.outcomes import DEFAULT_SHAPES, Shapes

NAME = "quiet-failures"
DOC = "no execution counted a success returned an error-shaped result or logged an error"
LEVELS = {"WARNING": 30, "ERROR": 40, "CRITICAL": 50}


@dataclass(frozen=True)
class Options:
    shapes: Shapes = field(default_factory=Shapes)
    level: str = "ERROR"
    logs: str = "report"  # "fail": logged errors alone fail the run too
    ignore: tuple[str, ...] = ()  # globs of task functions
    ignore_messages: tuple[str, ...] = ()  # regular expressions over a record's message


def options(r: Any) -> Options:
    shapes = r.get("shapes", list, default=None)
    if shapes is not None:
        for i, shape in enumerate(shapes):
            if not isinstance(shape, dict) or not shape:
                r.fail("a shape is a non-empty table of key = value ('*': present)", f"shapes[{i}]")
    patterns = r.get("patterns", list, default=[])
    ignore_messages = r.get("ignore_messages", list, default=[])
    for key, items in (("patterns", patterns), ("ignore_messages", ignore_messages)):
        for i, pattern in enumerate(items):
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                r.fail(f"bad regular expression: {exc}", f"{key}[{i}]")
    level = r.get("level", str, default="ERROR")
    if level not in LEVELS:
        r.fail(f"{level!r}: use {', '.join(LEVELS)}", "level")
    ignore = r.get("ignore", list, default=[])
    logs = r.get("logs", str, default="report")
    if logs not in ("report", "fail"):
        r.fail(f"{logs!r}: use 'report' or 'fail'", "logs")
    return Options(
        shapes=Shapes(tuple(shapes) if shapes is not None else DEFAULT_SHAPES, tuple(patterns)),
        level=level,
        logs=logs,
        ignore=tuple(str(g) for g in ignore),
        ignore_messages=tuple(ignore_messages),
    )


def shapes_of(ctx: RunContext) -> Shapes:
    """The error shapes this run is judged with (the load-outcomes checker uses them too)."""
    return ctx.options(NAME).shapes


def check(ctx: RunContext) -> Verdict:
    opts = ctx.options(NAME)
    shapes = shapes_of(ctx)
    level = LEVELS[opts.level]
    ignore, quiet = opts.ignore, opts.ignore_messages
    calls = enqueued_calls(ctx)
    failures: list[Problem] = []
    logged: list[Problem] = []
    judged = 0
    for t, attempt in ctx.history.attempts():
        if attempt.outcome != "ok" or any(fnmatch.fnmatchcase(t.func or "", g) for g in ignore):
            continue
        judged += 1
        shape = shapes.match(attempt.returned)
        record = next(
            (
                (lvl, logger, message)
                for lvl, logger, message in attempt.records
                if LEVELS.get(lvl, 0) >= level and not any(re.search(q, message) for q in quiet)
            ),
            None,
        )
        if shape is None and record is None:
            continue
        e = calls.get(t.id)
        call = call_repr(t.func, e.data.get("args"), e.data.get("kwargs")) if e else t.func
        head = f"{call} (task {t.id[:8]}, attempt {attempt.number}) at {ctx.when(attempt.ended)}"
        said = None if record is None else f"logged {record[0]} {record[1]}: {record[2]!r}"
        func = t.func or "?"
        if shape is not None:
            text = f"returned {_show(attempt.returned)} (error shape {shape})"
            cause = f"returned an error-shaped result {shape}" + error_of(attempt.returned)
            message = f"{head} counted as a success but {text}" + _and(said)
            failures.append(Problem(NAME, "error-result", func, cause, message, attempt.ended))
        else:
            assert record is not None
            cause = f"logged {record[0]} {record[1]}: {steady(record[2])}"
            message = f"{head} returned normally but {said}"
            logged.append(Problem(NAME, "logged-error", func, cause, message, attempt.ended))
    if opts.logs == "fail":
        failures, logged = failures + logged, []
    note = f"; {len(logged)} more logged errors (logs = 'report')" if logged else ""
    first = failures[0].message if failures else ""
    return Verdict.of(
        NAME,
        failures,
        f"{judged} successful executions, none reported a failure{note}",
        f"{len(failures)} of {judged} successful executions reported a failure; first: "
        f"{first}{note}",
        [p.message for p in logged],
    )


def error_of(returned: Any) -> str:
    """The error a result names (its ``error`` key), as a cause: the same for every instance."""
    if isinstance(returned, dict) and returned.get("error"):
        return f": {steady(str(returned['error']))[:160]}"
    return ""


def _and(record: str | None) -> str:
    return "" if record is None else f", and {record}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."
