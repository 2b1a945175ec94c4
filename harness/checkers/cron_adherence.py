"""schedule-adherence for CRON rows: fires against Vixie's intended times (harness.checkers.cron).

Each fire is attributed to the latest intended time before it, if within ``tolerance`` (one
scheduler pass). Reported: a time that never fired, a time that fired twice (named as such in a
repeated hour), a fire at no intended time, a storm (three or more consecutive passes), and a
wildcard entry's missing runs in the second occurrence of a repeated hour. During a downtime
nothing fires; afterwards django-q2 fires a CRON row once, whatever ``catch_up`` says (it
computes the next run from now: CRON never catches up), so one run per gap is expected.
"""

from __future__ import annotations

import bisect
import datetime as dt
from typing import Any

from harness.checkers import RunContext
from harness.checkers.cron import PASS, down, expected_fires, is_wildcard, occurrence
from harness.checkers.problems import Problem, steady

Gap = tuple[dt.datetime, dt.datetime]
CHECKER = "schedule-adherence"  # whose problems these are (that module imports this one)


def subject(row: dict[str, Any]) -> str:
    """What a schedule's problems are about: its name, stable across runs (its id is not; an
    unnamed row is named by its function)."""
    return row.get("name") or f"unnamed schedule of {row.get('func')}"


def found(
    row: dict[str, Any], rule: str, cause: str, message: str, at: dt.datetime | None = None
) -> Problem:
    """A schedule-adherence problem of ``row``."""
    return Problem(CHECKER, rule, subject(row), cause, message, at)


def check_cron(
    name: str,
    row: dict[str, Any],
    ctx: RunContext,
    spec: Any,
    got: list[tuple[dt.datetime, str]],
    tolerance: dt.timedelta,
) -> tuple[int, list[Problem]]:
    """(intended times counted, problems) of one CRON row."""
    try:
        intended = expected_fires(row["cron"], ctx.zone, ctx.start, ctx.end)
    except Exception as exc:  # an invalid expression: the scheduler's error is the finding
        message = f"{name}: cron {row['cron']!r} cannot be evaluated: {exc}"
        return 0, [found(row, "invalid-cron", steady(f"cannot be evaluated: {exc}"), message)]
    fires = sorted(at for at, _ in got)
    grace = PASS + dt.timedelta(seconds=spec.phase)
    gaps: dict[Gap, list[dt.datetime]] = {}
    slots = []
    for t in intended:
        gap = down(spec, t, grace)
        if gap is None:
            slots.append(t)
        else:
            gaps.setdefault(gap, []).append(t)
    storms = _storms(fires)
    problems = [
        found(
            row,
            "storm",
            "fired on three or more consecutive scheduler passes",
            f"{name}: fired {len(run)} times on consecutive scheduler passes, "
            f"{ctx.when(run[0])} – {ctx.when(run[-1])} (a storm: cron {row['cron']!r})",
            run[0],
        )
        for run in storms
    ]
    in_storm = {f for run in storms for f in run}
    attributed, recovered, stray = _attribute(fires, slots, gaps, tolerance)
    problems += _stray(name, row, ctx, stray - in_storm, slots, attributed, tolerance)
    for slot, times in sorted(attributed.items()):
        if len(times) > 1 and not set(times) <= in_storm:
            message = f"{name}: {ctx.when(slot)} fired {len(times)}× at " + ", ".join(
                ctx.when(t) for t in times
            )
            cause = "an intended time fired more than once"
            problems.append(found(row, "double-fire", cause, message, times[1]))
    problems += _never_fired(name, row, ctx, slots, attributed, fires, tolerance)
    problems += _after_downtime(name, row, ctx, gaps, recovered, tolerance)
    return len(intended), problems


def _attribute(
    fires: list[dt.datetime],
    slots: list[dt.datetime],
    gaps: dict[Gap, list[dt.datetime]],
    tolerance: dt.timedelta,
) -> tuple[dict[dt.datetime, list[dt.datetime]], dict[Gap, list[dt.datetime]], set[dt.datetime]]:
    """Each fire → the intended time it served, the downtime it recovered, or neither."""
    attributed: dict[dt.datetime, list[dt.datetime]] = {}
    recovered: dict[Gap, list[dt.datetime]] = {}
    stray: set[dt.datetime] = set()
    for f in fires:
        gap = next(((a, b) for (a, b) in gaps if b <= f <= b + tolerance), None)
        if gap is not None:
            recovered.setdefault(gap, []).append(f)
            continue
        i = bisect.bisect_left(slots, f) - 1
        if i >= 0 and f - slots[i] <= tolerance:
            attributed.setdefault(slots[i], []).append(f)
        else:
            stray.add(f)
    return attributed, recovered, stray


def _stray(
    name: str,
    row: dict[str, Any],
    ctx: RunContext,
    stray: set[dt.datetime],
    slots: list[dt.datetime],
    attributed: dict[dt.datetime, list[dt.datetime]],
    tolerance: dt.timedelta,
) -> list[Problem]:
    """Fires at no intended time; in a repeated hour, named as the double fire they are."""
    out = []
    for f in sorted(stray):
        twin = _first_occurrence_twin(f, slots, attributed, ctx, tolerance)
        if twin is not None:
            message = (
                f"{name}: {twin.astimezone(ctx.zone):%H:%M} fired twice in the repeated hour, at "
                f"{ctx.when(attributed[twin][0])} and again at {ctx.when(f)} (a fixed cron "
                f"entry, {row['cron']!r}, fires once there)"
            )
            cause = "a fixed cron entry fired in both occurrences of the repeated hour"
            out.append(found(row, "double-fire", cause, message, f))
        else:
            message = (
                f"{name}: fired at {ctx.when(f)}, which is not one of its times "
                f"(cron {row['cron']!r} in {ctx.time_zone})"
            )
            cause = "fired at a time that is not one of its cron times"
            out.append(found(row, "off-slot", cause, message, f))
    return out


def _never_fired(
    name: str,
    row: dict[str, Any],
    ctx: RunContext,
    slots: list[dt.datetime],
    attributed: dict[dt.datetime, list[dt.datetime]],
    fires: list[dt.datetime],
    tolerance: dt.timedelta,
) -> list[Problem]:
    """Intended times with no fire; a wildcard entry's in a repeated hour as one problem (the
    instance is the skipped hour, however many runs it held)."""
    missed = [s for s in slots if s not in attributed and s + tolerance <= ctx.end]
    wildcard = is_wildcard(row["cron"])
    repeated = [s for s in missed if wildcard and occurrence(s, ctx.zone) == 1]
    out = []
    if repeated:
        before = [f for f in fires if f < repeated[0]]
        after = [f for f in fires if f > repeated[-1]]
        span = f"{ctx.when(repeated[0])} – {ctx.when(repeated[-1])}"
        gap_text = ""
        if before and after:
            gap_text = f", a {int((after[0] - before[-1]).total_seconds() // 60)}-minute gap"
        message = (
            f"{name}: skipped the repeated hour: {len(repeated)} runs due {span} never fired "
            f"(a wildcard cron runs in both occurrences{gap_text})"
        )
        cause = "a wildcard cron did not fire in the second occurrence of the repeated hour"
        out.append(found(row, "skipped-repeated-hour", cause, message, repeated[0]))
    out += [
        found(
            row,
            "missed-slot",
            "an intended time never fired",
            f"{name}: {ctx.when(s)} never fired (due by {ctx.when(s + tolerance)})",
            s,
        )
        for s in missed
        if s not in repeated
    ]
    return out


def _after_downtime(
    name: str,
    row: dict[str, Any],
    ctx: RunContext,
    gaps: dict[Gap, list[dt.datetime]],
    recovered: dict[Gap, list[dt.datetime]],
    tolerance: dt.timedelta,
) -> list[Problem]:
    out = []
    for (a, b), missed in gaps.items():
        runs = recovered.get((a, b), [])
        if len(runs) > 1:
            message = (
                f"{name}: fired {len(runs)}× after the downtime {ctx.when(a)} – {ctx.when(b)}; "
                "a CRON row fires once for a gap"
            )
            cause = "a CRON row fired more than once after a downtime (it fires once per gap)"
            out.append(found(row, "catch-up", cause, message, runs[1]))
        elif not runs and b + tolerance <= ctx.end:
            message = (
                f"{name}: no run after the downtime {ctx.when(a)} – {ctx.when(b)} "
                f"(first missed time {ctx.when(missed[0])})"
            )
            out.append(found(row, "no-run-after-downtime", "no run after a downtime", message, b))
    return out


def _first_occurrence_twin(
    fire: dt.datetime,
    slots: list[dt.datetime],
    attributed: dict[dt.datetime, list[dt.datetime]],
    ctx: RunContext,
    tolerance: dt.timedelta,
) -> dt.datetime | None:
    """For a fire in the second occurrence of a repeated hour: the slot at the same wall-clock
    time in the first occurrence, if it already fired (a fixed entry firing twice)."""
    local = fire.astimezone(ctx.zone)
    if local.fold != 1:
        return None
    twin = local.replace(fold=0).astimezone(dt.UTC)
    for slot in slots:
        if slot <= twin <= slot + tolerance and slot in attributed:
            return slot
    return None


def _storms(fires: list[dt.datetime], least: int = 3) -> list[list[dt.datetime]]:
    """Runs of ``least`` or more fires one scheduler pass apart."""
    runs: list[list[dt.datetime]] = []
    current: list[dt.datetime] = []
    for f in fires:
        if current and f - current[-1] == PASS:
            current.append(f)
            continue
        if len(current) >= least:
            runs.append(current)
        current = [f]
    if len(current) >= least:
        runs.append(current)
    return runs
