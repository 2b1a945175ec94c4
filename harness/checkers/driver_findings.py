"""What django-q2 only logs: a scheduler pass that raised, an unsaved result, a watchdog stop."""

from __future__ import annotations

from typing import Any

from harness.checkers import RunContext, Verdict, limit
from harness.record.findings import describe

NAME = "driver-findings"
DOC = "django-q2 logged no error the cluster would swallow (scheduler, save, watchdog)"


def options(r: Any) -> dict[str, Any]:
    return {}


def check(ctx: RunContext) -> Verdict:
    if not ctx.findings:
        return Verdict(NAME, True, "no scheduler, save or watchdog errors")
    evidence = [describe(f, ctx.zone) for f in ctx.findings]
    return Verdict(NAME, False, f"{len(evidence)} findings; first: {evidence[0]}", limit(evidence))
