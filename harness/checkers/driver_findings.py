"""What django-q2 only logs, and what stopped a run: a scheduler pass that raised, an unsaved
result, a watchdog stop, a runaway, a body blocked in real time, a refused connection, a lock on
a per-process cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.checkers import RunContext, Verdict
from harness.checkers.problems import Problem, steady
from harness.record.findings import describe

NAME = "driver-findings"
DOC = "django-q2 logged no error the cluster would swallow (scheduler, save, watchdog)"


@dataclass(frozen=True)
class Options:
    """It has none."""


def options(r: Any) -> Options:
    return Options()


def problem(finding: dict[str, Any], message: str) -> Problem:
    """A finding's rule, subject and cause: what makes two findings the same problem."""
    import datetime as dt

    kind = finding["finding"]
    at = dt.datetime.fromisoformat(str(finding["at"]).replace("Z", "+00:00"))
    subject, cause = _subject_and_cause(kind, finding)
    return Problem(NAME, kind.replace(" ", "-"), subject, cause, message, at)


def _subject_and_cause(kind: str, f: dict[str, Any]) -> tuple[str, str]:
    if kind == "watchdog":
        schedule = f.get("schedule")
        if schedule:
            why = steady(schedule.get("why") or "its next-run computation never ended")
            return f"schedule {schedule['name']}", why
        return str(
            f.get("func") or f.get("stopped")
        ), f"did not return within {f.get('budget_seconds')} s"
    if kind == "runaway":
        if f.get("runaway") == "chain":
            via = " and ".join(f.get("via") or [])
            return steady(str(f.get("chain")).split(" (")[0]), "tasks enqueued each other without "
            +"virtual time passing" + (f" via {via}" if via else "")
        return f"{f.get('what')} per virtual second", f"more than {f.get('budget')}"
    if kind == "network refused":
        return str(
            f.get("func")
        ), f"connection to {f.get('destination')} refused ({f.get('client')})"
    if kind == "lock on a per-process cache":
        return str(f.get("func")), steady(str(f.get("why")))
    if kind == "blocked":
        return str(f.get("func")), "blocked in real time (socket, lock, or an unpatched sleep)"
    detail = steady(str(f.get("detail") or f.get("error") or kind))
    return str(f.get("func") or f.get("schedule") or "django-q2"), detail


def check(ctx: RunContext) -> Verdict:
    problems = [problem(f, describe(f, ctx.zone)) for f in ctx.findings]
    first = problems[0].message if problems else ""
    return Verdict.of(
        NAME,
        problems,
        "no scheduler, save or watchdog errors",
        f"{len(problems)} findings; first: {first}",
    )
