"""Schedule adherence: every due slot fired once, at the right wall-clock time.

Expected slots are computed here, independently of django-q2, from the Schedule rows as setup
left them (first ``next_run``, type, minutes, cron) with ``zoneinfo`` and ``croniter``:
MINUTES/HOURLY add fixed intervals; DAILY/WEEKLY keep the local wall-clock time (a time that
does not exist on a spring-forward day means the same instant shifted forward, an ambiguous one
its first occurrence); CRON slots come from croniter in the scenario's zone. ``[expect.
schedule-adherence] at = {name = "HH:MM"}`` pins the intended local time of a DAILY/WEEKLY row,
which catches a row anchored at whatever time setup ran.

Catch-up: while the serving cluster is down nothing fires; afterwards ``catch_up = true`` fires
each missed slot once (one per scheduler pass), ``catch_up = false`` fires once for the whole
gap (the first missed slot) and skips the rest.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from typing import Any

from harness.checkers import RunContext, Verdict, limit
from harness.record.timeline import format_time

NAME = "schedule-adherence"
DOC = (
    "every due schedule slot fired once, at its wall-clock time; catch_up respected; no first "
    "run anchored outside the window"
)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
PASS = dt.timedelta(seconds=30)


def options(r: Any) -> dict[str, Any]:
    at = r.get("at", dict, default={})
    for name, value in at.items():
        if not isinstance(value, str) or not _HHMM.match(value):
            r.fail(f"{value!r} is not a local time 'HH:MM'", f"at.{name}")
    ignore = r.get("ignore", list, default=[])
    tolerance = r.duration("tolerance", default=None)
    return {"at": at, "ignore": ignore, "tolerance": tolerance}


def _wall(day: dt.date, hhmm: tuple[int, int, int], zone: Any) -> dt.datetime:
    """Local wall-clock time → UTC. zoneinfo's fold=0 maps a time in a spring-forward gap with
    the earlier offset (the instant shifted forward) and an ambiguous time to its first
    occurrence."""
    return dt.datetime.combine(day, dt.time(*hhmm), tzinfo=zone).astimezone(dt.UTC)


def expected_slots(row: dict[str, Any], ctx: RunContext, at: str | None) -> list[dt.datetime]:
    """Every slot of ``row`` in (start, end], as UTC instants."""
    zone, end = ctx.zone, ctx.end
    first: dt.datetime = row["next_run"]
    kind = row["schedule_type"]
    slots: list[dt.datetime] = []
    if kind == "O":
        return [first] if first <= end else []
    if kind in ("D", "W") and at is not None:
        hour, minute = (int(x) for x in at.split(":"))
        day = ctx.start.astimezone(zone).date()
        first = _wall(day, (hour, minute, 0), zone)
        while first <= ctx.start:
            day += dt.timedelta(days=1)
            first = _wall(day, (hour, minute, 0), zone)
        if kind == "W":  # keep the weekday setup chose
            target = row["next_run"].astimezone(zone).weekday()
            while first.astimezone(zone).weekday() != target:
                day += dt.timedelta(days=1)
                first = _wall(day, (hour, minute, 0), zone)
    if kind == "C":
        from harness.checkers.cron import expected_fires

        return expected_fires(row["cron"], zone, ctx.start, end)
    local = first.astimezone(zone)
    hms = (local.hour, local.minute, local.second)
    if kind in ("D", "W") and at is not None:
        hms = (int(at[:2]), int(at[3:]), 0)  # the pinned time, even when `first` was shifted
    step_days = {"D": 1, "W": 7}.get(kind)
    n = 0
    slot = first
    while slot <= end:
        slots.append(slot)
        n += 1
        if step_days:
            slot = _wall(local.date() + dt.timedelta(days=step_days * n), hms, zone)
        elif kind == "I":
            slot = first + dt.timedelta(minutes=(row["minutes"] or 1) * n)
        elif kind == "H":
            slot = first + dt.timedelta(hours=n)
        else:  # monthly and rarer types: not modelled, only duplicates are checked
            break
    return slots


_PERIOD = {
    "I": None,  # minutes (from the row)
    "H": dt.timedelta(hours=1),
    "D": dt.timedelta(days=1),
    "W": dt.timedelta(days=7),
    "BW": dt.timedelta(days=14),
    "M": dt.timedelta(days=31),
    "BM": dt.timedelta(days=62),
    "Q": dt.timedelta(days=92),
    "Y": dt.timedelta(days=366),
}


def _period(row: dict[str, Any], ctx: RunContext) -> dt.timedelta | None:
    """How far after the start a schedule created at the start can first run (None: any)."""
    kind = row["schedule_type"]
    if kind == "I":
        return dt.timedelta(minutes=row["minutes"] or 1)
    if kind == "C":
        from croniter import croniter

        try:
            slot = croniter(row["cron"], ctx.start.astimezone(ctx.zone)).get_next(dt.datetime)
        except Exception:  # an invalid cron: the scheduler's own error is the finding
            return None
        return slot.astimezone(dt.UTC) - ctx.start.astimezone(dt.UTC)
    return _PERIOD.get(kind)


def first_run_outside(row: dict[str, Any], ctx: RunContext, tolerance: dt.timedelta) -> str | None:
    """A first ``next_run`` no schedule created at the start could have: the row was anchored
    by another clock (built in real time by ``post_migrate`` or a data migration, or copied
    from a database of another day). Such a row silently never fires in the window, or fires
    at once and catches up."""
    period = _period(row, ctx)
    first = row["next_run"]
    if period is None or first is None:
        return None
    name = row["name"] or f"#{row['id']}"
    start = ctx.start.astimezone(dt.UTC)  # absolute arithmetic: a zone's would move at DST
    latest = start + period + tolerance
    if first > latest:
        fate = "it never fires in this run" if first > ctx.end else "its earlier slots are lost"
        return (
            f"{name}: first run {ctx.when(first)} is after {ctx.when(latest)}, the latest a "
            f"schedule created at the start ({ctx.when(ctx.start)}) would run: was next_run set "
            f"by another clock (post_migrate or a data migration in real time)? {fate}"
        )
    if first < start - max(period, dt.timedelta(days=1)):
        return (
            f"{name}: first run {ctx.when(first)} lies {start - first} before the start "
            f"({ctx.when(ctx.start)}): was next_run set by another clock? it fires at once"
            + (" and catches up slot by slot" if row["schedule_type"] != "C" else "")
        )
    return None


def _down(
    spec: Any, when: dt.datetime, grace: dt.timedelta = dt.timedelta()
) -> tuple[dt.datetime, dt.datetime] | None:
    """The downtime covering ``when``; with ``grace``, also slots due before the first
    scheduler pass after the restart (that pass handles them as missed)."""
    for a, b in spec.downtime:
        if a <= when < b + grace:
            return a, b
    return None


def _check_cron(
    name: str,
    row: dict[str, Any],
    ctx: RunContext,
    spec: Any,
    got: list[tuple[dt.datetime, str]],
    tolerance: dt.timedelta,
) -> tuple[int, list[str]]:
    """A CRON row against its intended fire times (:mod:`harness.checkers.cron`, Vixie's DST rules).

    Each fire is attributed to the latest intended time before it, if within ``tolerance``
    (one scheduler pass). Reported: a time that never fired, a time that fired twice, a fire
    at no intended time, a storm (fires on three or more consecutive passes), and a wildcard
    entry's missing runs in the second occurrence of a repeated hour. During a downtime nothing
    fires; afterwards django-q2 fires a CRON row once, whatever ``catch_up`` says (it computes
    the next run from now: CRON never catches up), so one run per gap is expected.
    """
    from harness.checkers.cron import expected_fires, is_wildcard, occurrence

    try:
        intended = expected_fires(row["cron"], ctx.zone, ctx.start, ctx.end)
    except Exception as exc:  # an invalid expression: the scheduler's error is the finding
        return 0, [f"{name}: cron {row['cron']!r} cannot be evaluated: {exc}"]
    problems: list[str] = []
    fires = sorted(at for at, _ in got)
    grace = PASS + dt.timedelta(seconds=spec.phase)
    gaps: dict[tuple[dt.datetime, dt.datetime], list[dt.datetime]] = {}
    slots = []
    for t in intended:
        gap = _down(spec, t, grace)
        if gap is None:
            slots.append(t)
        else:
            gaps.setdefault(gap, []).append(t)
    storms = _storms(fires)
    in_storm = {f for run in storms for f in run}
    for run in storms:
        problems.append(
            f"{name}: fired {len(run)} times on consecutive scheduler passes, "
            f"{ctx.when(run[0])} – {ctx.when(run[-1])} (a storm: cron {row['cron']!r})"
        )
    attributed: dict[dt.datetime, list[dt.datetime]] = {}
    recovered: dict[tuple[dt.datetime, dt.datetime], list[dt.datetime]] = {}
    for f in fires:
        gap = next(((a, b) for (a, b) in gaps if b <= f <= b + tolerance), None)
        if gap is not None:
            recovered.setdefault(gap, []).append(f)
            continue
        i = bisect.bisect_left(slots, f) - 1
        if i >= 0 and f - slots[i] <= tolerance:
            attributed.setdefault(slots[i], []).append(f)
        elif f not in in_storm:
            twin = _first_occurrence_twin(f, slots, attributed, ctx, tolerance)
            if twin is not None:
                problems.append(
                    f"{name}: {twin.astimezone(ctx.zone):%H:%M} fired twice in the repeated "
                    f"hour, at {ctx.when(attributed[twin][0])} and again at {ctx.when(f)} (a "
                    f"fixed cron entry, {row['cron']!r}, fires once there)"
                )
            else:
                problems.append(
                    f"{name}: fired at {ctx.when(f)}, which is not one of its times "
                    f"(cron {row['cron']!r} in {ctx.time_zone})"
                )
    for slot, times in sorted(attributed.items()):
        if len(times) > 1 and not set(times) <= in_storm:
            problems.append(
                f"{name}: {ctx.when(slot)} fired {len(times)}× at "
                + ", ".join(ctx.when(t) for t in times)
            )
    wildcard = is_wildcard(row["cron"])
    missed = [s for s in slots if s not in attributed and s + tolerance <= ctx.end]
    repeated = [s for s in missed if wildcard and occurrence(s, ctx.zone) == 1]
    if repeated:
        before = [f for f in fires if f < repeated[0]]
        after = [f for f in fires if f > repeated[-1]]
        span = f"{ctx.when(repeated[0])} – {ctx.when(repeated[-1])}"
        gap_text = ""
        if before and after:
            gap_text = f", a {int((after[0] - before[-1]).total_seconds() // 60)}-minute gap"
        problems.append(
            f"{name}: skipped the repeated hour: {len(repeated)} runs due {span} never fired "
            f"(a wildcard cron runs in both occurrences{gap_text})"
        )
    for s in missed:
        if s not in repeated:
            problems.append(f"{name}: {ctx.when(s)} never fired (due by {ctx.when(s + tolerance)})")
    for (a, b), _missed in gaps.items():
        runs = recovered.get((a, b), [])
        if len(runs) > 1:
            problems.append(
                f"{name}: fired {len(runs)}× after the downtime {ctx.when(a)} – {ctx.when(b)}; "
                "a CRON row fires once for a gap"
            )
        elif not runs and b + tolerance <= ctx.end:
            problems.append(
                f"{name}: no run after the downtime {ctx.when(a)} – {ctx.when(b)} "
                f"(first missed time {ctx.when(_missed[0])})"
            )
    return len(intended), problems


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


def check(ctx: RunContext) -> Verdict:
    opts = ctx.options(NAME)
    pins: dict[str, str] = opts.get("at", {})
    ignore = set(opts.get("ignore", []))
    tolerance = opts.get("tolerance") or PASS + dt.timedelta(
        seconds=1 + max([s.phase for s in ctx.clusters] or [0])
    )
    fired: dict[str, list[tuple[dt.datetime, str]]] = {}
    for e in ctx.timeline.of("schedule.fired"):
        fired.setdefault(e.data["schedule"], []).append(
            (
                e.at,
                format_time(e.data["slot"])
                if isinstance(e.data["slot"], dt.datetime)
                else str(e.data["slot"]),
            )
        )
    evidence: list[str] = []
    total = 0
    for row in ctx.schedules:
        name = row["name"] or f"#{row['id']}"
        if name in ignore or row["repeats"] == 0:
            continue
        spec = ctx.cluster_for_queue(row["cluster"])
        got = fired.get(name, [])
        if spec is None or not spec.scheduler:
            if got:
                continue
            evidence.append(
                f"{name}: no simulated cluster runs its scheduler (cluster "
                f"{row['cluster'] or ctx.default_cluster!r}): nothing fires"
            )
            continue
        anchored = first_run_outside(row, ctx, tolerance)
        if anchored is not None:
            evidence.append(anchored)
            continue
        if row["schedule_type"] == "C":
            count, problems = _check_cron(name, row, ctx, spec, got, tolerance)
            total += count
            evidence.extend(problems)
            continue
        slots = expected_slots(row, ctx, pins.get(name))
        if name in pins and row["schedule_type"] in ("D", "W"):
            local = row["next_run"].astimezone(ctx.zone)
            pinned = _wall(local.date(), (int(pins[name][:2]), int(pins[name][3:]), 0), ctx.zone)
            if row["next_run"] != pinned:
                evidence.append(
                    f"{name}: first run set for {ctx.when(row['next_run'])}, "
                    f"not at {pins[name]} {ctx.time_zone} (anchored when setup ran?)"
                )
        total += len(slots)
        by_slot: dict[str, list[dt.datetime]] = {}
        for at, slot in got:
            by_slot.setdefault(slot, []).append(at)
        expected_keys = {format_time(s) for s in slots}
        for slot_key, times in sorted(by_slot.items()):
            if len(times) > 1:
                evidence.append(
                    f"{name}: slot {ctx.when(slot_key)} fired {len(times)}× at "
                    + ", ".join(ctx.when(t) for t in times)
                )
            if slot_key not in expected_keys:
                evidence.append(
                    f"{name}: fired at {ctx.when(times[0])} for slot {ctx.when(slot_key)}, "
                    "which is not one of its wall-clock slots"
                )
        missed_in_gap: dict[tuple[dt.datetime, dt.datetime], list[dt.datetime]] = {}
        for slot in slots:
            key = format_time(slot)
            gap = _down(spec, slot, PASS + dt.timedelta(seconds=spec.phase))
            if gap is not None:
                missed_in_gap.setdefault(gap, []).append(slot)
                continue
            if slot + tolerance > ctx.end:
                continue  # its pass may lie beyond the end of the run
            if key not in by_slot:
                evidence.append(
                    f"{name}: slot {ctx.when(slot)} never fired (due by "
                    f"{ctx.when(slot + tolerance)})"
                )
                continue
            late = by_slot[key][0]
            if late > slot + tolerance and _down(spec, late - tolerance) is None:
                evidence.append(f"{name}: slot {ctx.when(slot)} fired late, at {ctx.when(late)}")
        for (a, b), missed in missed_in_gap.items():
            keys = [format_time(s) for s in missed]
            got_keys = [k for k in keys if k in by_slot]
            if spec.catch_up:
                for k in keys:
                    if k not in by_slot and b + PASS * (len(keys) + 1) <= ctx.end:
                        evidence.append(
                            f"{name}: slot {ctx.when(k)} missed while the cluster was down "
                            f"({ctx.when(a)} – {ctx.when(b)}) and never caught up (catch_up on)"
                        )
            else:
                extra = [k for k in got_keys if k != keys[0]]
                for k in extra:
                    evidence.append(
                        f"{name}: slot {ctx.when(k)} fired after the downtime although "
                        "catch_up is off (only one run per gap)"
                    )
                if keys[0] not in by_slot and b + tolerance <= ctx.end:
                    evidence.append(
                        f"{name}: no run after the downtime {ctx.when(a)} – {ctx.when(b)} "
                        f"(first missed slot {ctx.when(keys[0])})"
                    )
    if not evidence:
        return Verdict(NAME, True, f"{len(ctx.schedules)} schedules, {total} slots, all on time")
    return Verdict(NAME, False, f"{len(evidence)} problems; first: {evidence[0]}", limit(evidence))
