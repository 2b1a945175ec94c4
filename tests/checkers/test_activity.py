"""activity: what must happen, judged from recorded runs alone (no database, no driver).

Each case is a timeline a cluster could produce and the Schedule rows setup left; the checker
must name exactly what did not happen.
"""

from __future__ import annotations

import datetime as dt

import pytest

from harness.checkers import RunContext
from harness.checkers.activity import check
from harness.checkers.expectations import parse as parse_expect
from harness.record.run import RunRecord, ScenarioFacts, Snapshot
from harness.record.timeline import Timeline
from harness.scenario import ScenarioError
from harness.sim.cluster import ClusterSpec

ZONE = "Europe/Bucharest"
START = dt.datetime(2026, 10, 24, 0, 0, tzinfo=dt.UTC)  # 03:00 EEST, the day before fall-back
HOUR, DAY, PASS = dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(seconds=30)


def row(name: str, kind: str, first: dt.datetime, **fields) -> dict:
    return {"id": len(name), "name": name, "func": f"apps.jobs.{name.replace('-', '_')}",
            "schedule_type": kind, "minutes": fields.get("minutes"), "cron": fields.get("cron"),
            "next_run": first, "repeats": -1, "cluster": None}  # fmt: skip


def judge(
    rows: list[dict],
    fires: dict[str, list[dt.datetime]],
    table: dict | None = None,
    days: float = 2,
    started: list[tuple[str, dt.datetime]] = (),
    enqueued: list[str] = (),
    functions: list[str] = (),
):
    tl = Timeline()
    events = [(at, "schedule.fired", name) for name, times in fires.items() for at in times]
    for at, _, name in sorted(events):
        tl.add(at, "schedule.fired", schedule=name, func="f", task=f"{name}{at}", slot=at)
    for i, func in enumerate(enqueued):
        tl.add(START, "task.enqueued", task=f"e{i}", func=func, args=[], kwargs={}, queue="q")
    for i, (func, at) in enumerate(started):
        tl.add(at, "task.started", task=f"s{i}", func=func, attempt=1, cluster="q")
    facts = ScenarioFacts("t", "<test>", ZONE, START, dt.timedelta(days=days), seed=0)
    record = RunRecord(
        scenario=facts, seed=0, end=START + dt.timedelta(days=days), timeline=tl,
        clusters=[ClusterSpec(name="q")], default_cluster="q",
        snapshot=Snapshot(schedules=rows, task_functions=list(functions)),
    )  # fmt: skip
    return check(RunContext(record, parse_expect({"activity": table or {}}, "<test>")))


def every(first: dt.datetime, step: dt.timedelta, until: dt.datetime) -> list[dt.datetime]:
    out = []
    while first <= until:
        out.append(first)
        first += step
    return out


def rules(verdict) -> list[tuple[str, str, str]]:
    return [(p.rule, p.subject, p.cause) for p in verdict.problems]


END = START + 2 * DAY


def test_an_hourly_schedule_that_fires_every_hour_holds_and_one_missed_hour_is_a_gap():
    hourly = row("payment-retries", "H", START + HOUR)
    fires = every(START + HOUR + PASS, HOUR, END)
    ok = judge([hourly], {"payment-retries": fires}, {"schedules": ["payment-*"]})
    assert ok.ok, ok.message
    assert ok.message.startswith("1 schedules fired every period, 0 task rates met")
    missed = [t for t in fires if t != START + 10 * HOUR + PASS]
    verdict = judge([hourly], {"payment-retries": missed}, {"schedules": ["payment-*"]})
    assert rules(verdict) == [("gap", "payment-retries", "no fire for longer than its period")]
    assert verdict.problems[0].message == (
        "payment-retries (hourly): no fire from 2026-10-24 12:00:30 EEST to "
        "2026-10-24 14:00:30 EEST (2.0 h)"
    )


def test_the_scheduler_grid_is_allowed_and_no_more():
    hourly = row("sweep", "I", START + HOUR, minutes=60)
    # each fire a pass late: 60 min + 30 s between fires is the grid, not a gap
    late = every(START + HOUR + PASS, HOUR + PASS, END)
    assert judge([hourly], {"sweep": late}, {"schedules": ["sweep"]}).ok
    later = every(START + HOUR, HOUR + 2 * PASS, END)
    assert rules(judge([hourly], {"sweep": later}, {"schedules": ["sweep"]}))[0][0] == "gap"


def test_a_daily_schedule_across_the_fall_back_day_holds_and_a_skipped_night_does_not():
    # 04:00 local each night: 25 hours apart across 25 October (EEST → EET)
    nights = [dt.datetime(2026, 10, 24, 1, 0, 20, tzinfo=dt.UTC),
              dt.datetime(2026, 10, 25, 2, 0, 20, tzinfo=dt.UTC)]  # fmt: skip
    daily = row("cleanup", "D", nights[0])
    assert judge([daily], {"cleanup": nights}, {"schedules": ["cleanup"]}).ok
    verdict = judge([daily], {"cleanup": nights[:1]}, {"schedules": ["cleanup"]})
    assert rules(verdict) == [("gap", "cleanup", "no fire for longer than its period")]
    assert verdict.problems[0].message == (
        "cleanup (daily): no fire from 2026-10-24 04:00:20 EEST to 2026-10-26 02:00:00 EET (47.0 h)"
    )
    assert verdict.problems[0].at == nights[0]


def test_a_window_shorter_than_the_period_asks_only_that_the_schedule_exists():
    weekly = row("digest", "W", START + 3 * DAY)
    assert judge([weekly], {}, {"schedules": ["digest"]}).ok
    verdict = judge([weekly], {}, {"schedules": ["digest"]}, days=8)
    assert rules(verdict) == [("never-fired", "digest", "never fired in the window")]
    assert verdict.problems[0].message.startswith("digest (weekly) never fired in the window")


def test_a_name_or_a_glob_that_matches_no_schedule_is_a_problem_not_a_pass():
    hourly = row("payment-retries", "H", START + HOUR)
    fires = {"payment-retries": every(START + HOUR + PASS, HOUR, END)}
    table = {"schedules": ["purge-expired-tokens", "billing-*", "payment-retries"]}
    verdict = judge([hourly], fires, table)
    assert not verdict.ok
    assert rules(verdict) == [
        ("missing-schedule", "purge-expired-tokens", "no schedule of this name after setup"),
        ("missing-schedule", "billing-*", "matches no schedule after setup"),
    ]


def test_a_cron_schedule_s_period_is_the_longest_interval_of_its_expression():
    mondays = row("digest", "C", dt.datetime(2026, 10, 26, 7, 0, tzinfo=dt.UTC), cron="0 9 * * 1")
    # 24 Oct (a Saturday) + 8 days: one Monday 09:00 inside, a week is the period
    monday = [dt.datetime(2026, 10, 26, 7, 0, 30, tzinfo=dt.UTC)]
    assert judge([mondays], {"digest": monday}, {"schedules": ["digest"]}, days=8).ok
    # 16 days: the second Monday (2 November) never fired
    verdict = judge([mondays], {"digest": monday}, {"schedules": ["digest"]}, days=16)
    assert rules(verdict) == [("gap", "digest", "no fire for longer than its period")]
    assert verdict.problems[0].message == (  # the period: 169 h, across the fall-back hour
        "digest (cron '0 9 * * 1'): no fire from 2026-10-26 09:00:30 EET to "
        "2026-11-09 02:00:00 EET (13.7 days)"
    )
    weekdays = row("invoices", "C", START, cron="0 2 * * 1-5")
    assert judge([weekdays], {}, {"schedules": ["invoices"]}, days=2).ok  # Sat, Sun: 3-day period


def test_task_rates_are_judged_per_full_period_from_the_start():
    runs = [("apps.billing.tasks.invoice", START + HOUR), ("apps.billing.tasks.collect", START),
            ("apps.billing.tasks.invoice", START + DAY + HOUR),
            ("apps.billing.tasks.invoice", START + 2 * DAY + HOUR),
            ("apps.billing.tasks.invoice", START + 2 * DAY + 2 * HOUR),
            ("apps.domains.tasks.renew", START + 3 * HOUR)]  # fmt: skip
    table = {"tasks": {"apps.billing.*": "2/day", "apps.domains.tasks.renew": "1/6h"}}
    verdict = judge([], {}, table, days=2.5, started=runs)
    assert (
        rules(verdict)
        == [
            ("too-rare", "apps.billing.*", "ran fewer than 2 per day"),  # day 2: once
            ("too-rare", "apps.domains.tasks.renew", "ran fewer than 1 per 6h"),  # 06:00-12:00 …
        ]
        + [("too-rare", "apps.domains.tasks.renew", "ran fewer than 1 per 6h")] * 8
    )
    assert verdict.problems[0].message == (
        "apps.billing.*: ran 1 time from 2026-10-25 03:00:00 EEST to 2026-10-26 02:00:00 EET "
        "(at least 2 per day)"
    )  # the half day at the end is not a full period: not judged


@pytest.mark.parametrize(
    ("rate", "reason"),
    [
        ("daily", "'daily' is not a rate like '1/day', '2/week' or '1/6h'"),
        ("1/fortnight", "'fortnight' is not minute, hour, day, week or a duration like '6h'"),
        ("0/day", "must be at least 1 per period"),
        (3, "3 is not a rate like '1/day', '2/week' or '1/6h'"),
    ],
)
def test_a_bad_rate_is_one_line_naming_its_glob(rate, reason):
    with pytest.raises(ScenarioError) as info:
        parse_expect({"activity": {"tasks": {"apps.*": rate}}}, "s.toml")
    assert str(info.value) == f"s.toml: expect.activity.tasks.apps.*: {reason}"


def test_without_configuration_it_holds_and_lists_what_never_happened_as_information():
    rows = [row("nightly", "D", START + HOUR), row("purge", "D", START + 2 * HOUR),
            row("audit", "H", START + HOUR)]  # fmt: skip
    verdict = judge(
        rows,
        {"nightly": [START + HOUR + PASS, START + DAY + HOUR + PASS]},
        enqueued=["apps.billing.tasks.charge"],
        functions=["apps.billing.tasks.charge", "apps.billing.tasks.refund", "apps.mail.tasks.x"],
    )
    assert verdict.ok and verdict.problems == []
    assert verdict.message == (
        "2 schedules never fired: audit, purge; "
        "2 task functions never enqueued: apps.billing.tasks.refund, apps.mail.tasks.x"
    )
    assert verdict.evidence == [
        "schedule audit never fired in the window (information)",
        "schedule purge never fired in the window (information)",
        "task function apps.billing.tasks.refund was never enqueued in the window (information)",
        "task function apps.mail.tasks.x was never enqueued in the window (information)",
    ]
    quiet = judge([], {}, functions=[])
    assert quiet.ok and quiet.message == "no schedules, no task functions found"


def test_the_project_s_task_functions_survive_the_record_s_json():
    snapshot = Snapshot(task_functions=["apps.a.tasks.f", "apps.b.tasks.g"])
    assert Snapshot.from_json(snapshot.to_json()).task_functions == snapshot.task_functions
