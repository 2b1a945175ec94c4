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

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from harness.checkers import RunContext, Verdict
from harness.checkers.cron import PASS, SCHEDULE_PERIODS, down
from harness.checkers.cron_adherence import check_cron, found
from harness.checkers.problems import Problem
from harness.record.timeline import SCHEDULE_FIRED, format_time

NAME = "schedule-adherence"
DOC = (
    "every due schedule slot fired once, at its wall-clock time; catch_up respected; no first "
    "run anchored outside the window"
)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Options:
    at: dict[str, str] = field(default_factory=dict)  # schedule → intended local "HH:MM"
    ignore: tuple[str, ...] = ()
    tolerance: dt.timedelta | None = None  # None: one scheduler pass


def options(r: Any) -> Options:
    at = r.get("at", dict, default={})
    for name, value in at.items():
        if not isinstance(value, str) or not _HHMM.match(value):
            r.fail(f"{value!r} is not a local time 'HH:MM'", f"at.{name}")
    ignore = r.get("ignore", list, default=[])
    tolerance = r.duration("tolerance", default=None)
    return Options(dict(at), tuple(ignore), tolerance)


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
    return SCHEDULE_PERIODS.get(kind)


def first_run_outside(
    row: dict[str, Any], ctx: RunContext, tolerance: dt.timedelta
) -> Problem | None:
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
    rule = "first-run-anchored-elsewhere"
    if first > latest:
        fate = "it never fires in this run" if first > ctx.end else "its earlier slots are lost"
        message = (
            f"{name}: first run {ctx.when(first)} is after {ctx.when(latest)}, the latest a "
            f"schedule created at the start ({ctx.when(ctx.start)}) would run: was next_run set "
            f"by another clock (post_migrate or a data migration in real time)? {fate}"
        )
        cause = "first run later than a schedule created at the start would run"
        return found(row, rule, cause, message, first)
    if first < start - max(period, dt.timedelta(days=1)):
        message = (
            f"{name}: first run {ctx.when(first)} lies {start - first} before the start "
            f"({ctx.when(ctx.start)}): was next_run set by another clock? it fires at once"
            + (" and catches up slot by slot" if row["schedule_type"] != "C" else "")
        )
        cause = "first run more than a period before the start"
        return found(row, rule, cause, message, first)
    return None


def check(ctx: RunContext) -> Verdict:
    opts = ctx.options(NAME)
    pins = opts.at
    ignore = set(opts.ignore)
    tolerance = opts.tolerance or PASS + dt.timedelta(
        seconds=1 + max([s.phase for s in ctx.clusters] or [0])
    )
    fired = _fired(ctx)
    problems: list[Problem] = []
    total = 0
    for row in ctx.schedules:
        name = row["name"] or f"#{row['id']}"
        if name in ignore or row["repeats"] == 0:
            continue
        count, of_row = _row(name, row, ctx, fired.get(name, []), pins.get(name), tolerance)
        total += count
        problems.extend(of_row)
    first = problems[0].message if problems else ""
    return Verdict.of(
        NAME,
        problems,
        f"{len(ctx.schedules)} schedules, {total} slots, all on time",
        f"{len(problems)} problems; first: {first}",
    )


def _fired(ctx: RunContext) -> dict[str, list[tuple[dt.datetime, str]]]:
    """Schedule name → (fire time, the slot django-q2 fired it for) of every fire."""
    fired: dict[str, list[tuple[dt.datetime, str]]] = {}
    for e in ctx.timeline.of(SCHEDULE_FIRED):
        slot = e.data["slot"]
        key = format_time(slot) if isinstance(slot, dt.datetime) else str(slot)
        fired.setdefault(e.data["schedule"], []).append((e.at, key))
    return fired


def _row(
    name: str,
    row: dict[str, Any],
    ctx: RunContext,
    got: list[tuple[dt.datetime, str]],
    pin: str | None,
    tolerance: dt.timedelta,
) -> tuple[int, list[Problem]]:
    """(slots counted, problems) of one schedule row."""
    spec = ctx.cluster_for_queue(row["cluster"])
    if spec is None or not spec.scheduler:
        if got:
            return 0, []
        cluster = row["cluster"] or ctx.default_cluster
        message = (
            f"{name}: no simulated cluster runs its scheduler (cluster {cluster!r}): nothing fires"
        )
        cause = f"no simulated cluster runs the scheduler of cluster {cluster!r}"
        return 0, [found(row, "no-scheduler", cause, message)]
    anchored = first_run_outside(row, ctx, tolerance)
    if anchored is not None:
        return 0, [anchored]
    if row["schedule_type"] == "C":
        return check_cron(name, row, ctx, spec, got, tolerance)
    slots = expected_slots(row, ctx, pin)
    problems = _pinned(name, row, ctx, pin)
    by_slot: dict[str, list[dt.datetime]] = {}
    for at, slot in got:
        by_slot.setdefault(slot, []).append(at)
    problems += _extra_fires(name, row, ctx, slots, by_slot)
    gaps, missed = _missed(name, row, ctx, spec, slots, by_slot, tolerance)
    problems += missed
    problems += _after_downtime(name, row, ctx, spec, gaps, by_slot, tolerance)
    return len(slots), _shifted(name, row, ctx, problems)


def _shifted(
    name: str, row: dict[str, Any], ctx: RunContext, found_: list[Problem]
) -> list[Problem]:
    """One cause, one problem: a row whose every missed slot has a fire off its slots at the
    same local distance (a DAILY row anchored when setup ran, not at its time) is *shifted* —
    not N missed slots, N fires off-slot and a first run off its pinned time."""
    missed = sorted((p for p in found_ if p.rule == "missed-slot"), key=lambda p: p.at)
    off = sorted((p for p in found_ if p.rule == "off-slot"), key=lambda p: p.at)
    if not missed or len(missed) != len(off):
        return found_
    local = [
        (
            o.at.astimezone(ctx.zone).replace(tzinfo=None),
            m.at.astimezone(ctx.zone).replace(tzinfo=None),
        )
        for m, o in zip(missed, off, strict=True)
    ]
    deltas = {fire - slot for fire, slot in local}
    if len(deltas) != 1:
        return found_
    delta = dt.timedelta(minutes=round(deltas.pop() / dt.timedelta(minutes=1)))  # the 30 s grid
    fire, slot = local[0]
    how = f"{abs(delta)} {'early' if delta < dt.timedelta() else 'late'}"
    cause = f"runs at {fire:%H:%M} local time instead of {slot:%H:%M} ({how})"
    message = (
        f"{name}: runs at {fire:%H:%M} instead of its {slot:%H:%M} slots, {how}: {len(missed)} "
        f"runs from {ctx.when(off[0].at)} (slot {ctx.when(missed[0].at)} never fired; anchored "
        "when setup ran, or moved by a DST change?)"
    )
    kept = [p for p in found_ if p.rule not in ("missed-slot", "off-slot", "off-pinned-time")]
    return [found(row, "shifted", cause, message, off[0].at), *kept]


def _pinned(name: str, row: dict[str, Any], ctx: RunContext, pin: str | None) -> list[Problem]:
    """A DAILY/WEEKLY row whose first run is not at its intended local time."""
    if pin is None or row["schedule_type"] not in ("D", "W"):
        return []
    local = row["next_run"].astimezone(ctx.zone)
    pinned = _wall(local.date(), (int(pin[:2]), int(pin[3:]), 0), ctx.zone)
    if row["next_run"] == pinned:
        return []
    message = (
        f"{name}: first run set for {ctx.when(row['next_run'])}, "
        f"not at {pin} {ctx.time_zone} (anchored when setup ran?)"
    )
    cause = f"first run not at its pinned local time {pin}"
    return [found(row, "off-pinned-time", cause, message, row["next_run"])]


def _extra_fires(
    name: str,
    row: dict[str, Any],
    ctx: RunContext,
    slots: list[dt.datetime],
    by_slot: dict[str, list[dt.datetime]],
) -> list[Problem]:
    """A slot fired more than once, or a fire for a slot that is not one of the row's."""
    out = []
    expected_keys = {format_time(s) for s in slots}
    for slot_key, times in sorted(by_slot.items()):
        if len(times) > 1:
            message = f"{name}: slot {ctx.when(slot_key)} fired {len(times)}× at " + ", ".join(
                ctx.when(t) for t in times
            )
            cause = "a slot fired more than once"
            out.append(found(row, "double-fire", cause, message, times[1]))
        if slot_key not in expected_keys:
            message = (
                f"{name}: fired at {ctx.when(times[0])} for slot {ctx.when(slot_key)}, "
                "which is not one of its wall-clock slots"
            )
            cause = "fired for a slot that is not one of its wall-clock slots"
            out.append(found(row, "off-slot", cause, message, times[0]))
    return out


def _missed(
    name: str,
    row: dict[str, Any],
    ctx: RunContext,
    spec: Any,
    slots: list[dt.datetime],
    by_slot: dict[str, list[dt.datetime]],
    tolerance: dt.timedelta,
) -> tuple[dict[tuple[dt.datetime, dt.datetime], list[dt.datetime]], list[Problem]]:
    """Slots that never fired or fired late (outside downtimes), and the slots per downtime."""
    out = []
    in_gap: dict[tuple[dt.datetime, dt.datetime], list[dt.datetime]] = {}
    for slot in slots:
        key = format_time(slot)
        gap = down(spec, slot, PASS + dt.timedelta(seconds=spec.phase))
        if gap is not None:
            in_gap.setdefault(gap, []).append(slot)
            continue
        if slot + tolerance > ctx.end:
            continue  # its pass may lie beyond the end of the run
        if key not in by_slot:
            message = (
                f"{name}: slot {ctx.when(slot)} never fired (due by {ctx.when(slot + tolerance)})"
            )
            out.append(found(row, "missed-slot", "a slot never fired", message, slot))
            continue
        late = by_slot[key][0]
        if late > slot + tolerance and down(spec, late - tolerance) is None:
            message = f"{name}: slot {ctx.when(slot)} fired late, at {ctx.when(late)}"
            cause = "a slot fired later than the tolerance allows"
            out.append(found(row, "late", cause, message, slot))
    return in_gap, out


def _after_downtime(
    name: str,
    row: dict[str, Any],
    ctx: RunContext,
    spec: Any,
    gaps: dict[tuple[dt.datetime, dt.datetime], list[dt.datetime]],
    by_slot: dict[str, list[dt.datetime]],
    tolerance: dt.timedelta,
) -> list[Problem]:
    """catch_up on: every missed slot once afterwards; off: one run for the whole gap."""
    out = []
    for (a, b), missed in gaps.items():
        keys = [format_time(s) for s in missed]
        if spec.catch_up:
            for slot, k in zip(missed, keys, strict=True):
                if k not in by_slot and b + PASS * (len(keys) + 1) <= ctx.end:
                    message = (
                        f"{name}: slot {ctx.when(k)} missed while the cluster was down "
                        f"({ctx.when(a)} – {ctx.when(b)}) and never caught up (catch_up on)"
                    )
                    cause = "a slot missed during a downtime was never caught up (catch_up on)"
                    out.append(found(row, "catch-up", cause, message, slot))
            continue
        for k in keys[1:]:
            if k in by_slot:
                message = (
                    f"{name}: slot {ctx.when(k)} fired after the downtime although "
                    "catch_up is off (only one run per gap)"
                )
                cause = "a missed slot fired after a downtime although catch_up is off"
                out.append(found(row, "catch-up", cause, message, by_slot[k][0]))
        if keys[0] not in by_slot and b + tolerance <= ctx.end:
            message = (
                f"{name}: no run after the downtime {ctx.when(a)} – {ctx.when(b)} "
                f"(first missed slot {ctx.when(keys[0])})"
            )
            out.append(found(row, "no-run-after-downtime", "no run after a downtime", message, b))
    return out
