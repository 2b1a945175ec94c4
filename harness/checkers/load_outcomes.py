"""Load outcomes: every arrival of the scenario's load did what it was meant to.

A load is the scenario's way in (orders placed, invoices issued). When its callable raises, or
returns an error-shaped result (the ``quiet-failures`` shapes), the run judged less than it claims:
PRAHO's order service returned an error and logged a warning for every order of a replayed week
("no current price for RON"), and nothing else said so. Fails when a load has more such arrivals
than its ``[[load]] allow_failures`` (default 0); the message names every such load, counts all
their failed arrivals (raised and returned an error, per load) and quotes the first error.
Arrivals that logged warnings are listed in the verdict (and in the summary's arrivals line) but
do not fail it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.checkers import RunContext, Verdict
from harness.checkers.problems import Problem, steady
from harness.checkers.quiet_failures import error_of, shapes_of
from harness.record.outcomes import first_record, load_tallies

NAME = "load-outcomes"
DOC = "load arrivals returned (no more raised or returned an error than allow_failures says)"


@dataclass(frozen=True)
class Options:
    """It has none."""


def options(r: Any) -> Options:
    return Options()


def check(ctx: RunContext) -> Verdict:
    tallies = load_tallies(ctx.timeline, shapes_of(ctx))
    if not tallies:
        return Verdict(NAME, True, "no load arrivals")
    allowed = {spec["name"]: spec.get("allow_failures", 0) for spec in ctx.record.scenario.loads}
    evidence, problems = [], []
    for name, tally in tallies.items():
        head = f"{name}: {tally.arrivals} arrivals, {tally.returned} returned"
        if tally.raised:
            head += f", {tally.raised} raised"
        if tally.error_results:
            head += f", {tally.error_results} returned an error"
        if tally.failed > allowed.get(name, 0):
            head += f" (allow_failures = {allowed.get(name, 0)})"
            problems.extend(_problem(ctx, name, e) for e in tally.errors)
        evidence.append(head)
        for e in tally.errors[:5]:
            evidence.append(f"  {ctx.when(e.at)}: {_said(e)}")
        if len(tally.errors) > 5:
            evidence.append(f"  … {len(tally.errors) - 5} more failed arrivals")
        if tally.first_warning is not None:
            evidence.append(
                f"  {tally.warned} arrivals logged warnings; first at "
                f"{ctx.when(tally.first_warning.at)}: {first_record(tally.first_warning)}"
            )
    total = sum(t.arrivals for t in tallies.values())
    if not problems:
        return Verdict(
            NAME, True, f"{total} arrivals of {len(tallies)} loads; " + _brief(tallies), evidence
        )
    failing = [t for n, t in tallies.items() if t.failed > allowed.get(n, 0)]
    failed, arrivals = sum(t.failed for t in failing), sum(t.arrivals for t in failing)
    each = "; ".join(f"{t.name}: {_kinds(t)}" for t in failing)
    return Verdict(
        NAME,
        False,
        f"{', '.join(t.name for t in failing)}: {failed} of {arrivals} arrivals failed ({each}); "
        f"first {problems[0].message}",
        evidence,
        problems,
    )


def _kinds(tally: Any) -> str:
    """How a load's arrivals failed: raised, returned an error, or both (counted)."""
    kinds = [f"{tally.raised} raised"] if tally.raised else []
    if tally.error_results:
        kinds.append(f"{tally.error_results} returned an error")
    return ", ".join(kinds)


def _problem(ctx: RunContext, name: str, e: Any) -> Problem:
    """One failed arrival; its cause names the error (what it raised, or the error its result
    names, as quiet-failures does), so different errors are different root causes."""
    if e.data.get("outcome") == "raised":
        rule, cause = "raised", steady(str(e.data.get("error")))
    else:
        returned = e.data.get("returned")
        shape = shapes_of(ctx).match(returned) or ""
        rule, cause = (
            "error-result",
            f"returned an error-shaped result {shape}" + error_of(returned),
        )
    return Problem(NAME, rule, name, cause, f"at {ctx.when(e.at)}: {_said(e)}", e.at)


def _said(e: Any) -> str:
    if e.data.get("outcome") == "raised":
        return f"raised {e.data.get('error')}"
    return f"returned {e.data.get('returned')!r}"


def _brief(tallies: dict[str, Any]) -> str:
    warned = [f"{t.name} ({t.warned} logged warnings)" for t in tallies.values() if t.warned]
    failed = [f"{t.name} ({t.failed} allowed failures)" for t in tallies.values() if t.failed]
    parts = failed + warned
    return "; ".join(parts) if parts else "every arrival returned"
