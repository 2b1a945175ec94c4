"""schedule-adherence on CRON rows, from recorded runs alone (no database, no driver).

Each case is a timeline that a cluster could produce; the checker must name exactly the fault.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from harness.checkers import RunContext, Verdict
from harness.checkers.problems import roots
from harness.checkers.schedule_adherence import check
from harness.record.run import RunRecord, ScenarioFacts, Snapshot
from harness.record.timeline import Timeline
from harness.sim.cluster import ClusterSpec

UTC = dt.UTC
ZONE = zoneinfo.ZoneInfo("Europe/Bucharest")
START = dt.datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 01:00 EEST on the fall-back night
END = dt.datetime(2026, 10, 25, 3, 0, tzinfo=UTC)  # 05:00 EET


def verdict_of(crons: dict[str, tuple[str, list[dt.datetime]]], **cluster) -> Verdict:
    """The verdict on CRON rows, name → (expression, fire times)."""
    timeline = Timeline()
    fired = sorted((at, name) for name, (_, fires) in crons.items() for at in fires)
    for at, name in fired:  # one timeline, in time order
        timeline.add(at, "schedule.fired", schedule=name, func="f", task=f"{name}{at}", slot=at)
    rows = []
    for i, (name, (cron, fires)) in enumerate(crons.items()):
        rows.append(
            {
                "id": i + 1,
                "name": name,
                "func": "f",
                "schedule_type": "C",
                "minutes": None,
                "cron": cron,
                "next_run": fires[0] if fires else START + dt.timedelta(minutes=10),
                "repeats": -1,
                "cluster": None,
            }
        )
    facts = ScenarioFacts("t", "<test>", str(ZONE), START, END - START, seed=0)
    record = RunRecord(
        scenario=facts,
        seed=0,
        end=END,
        timeline=timeline,
        clusters=[ClusterSpec(name="default", **cluster)],
        default_cluster="default",
        snapshot=Snapshot(schedules=rows),
    )
    return check(RunContext(record))


def judge(cron: str, fires: list[dt.datetime], **cluster) -> tuple[bool, list[str]]:
    verdict = verdict_of({"job": (cron, fires)}, **cluster)
    return verdict.ok, verdict.evidence


def every(first: dt.datetime, last: dt.datetime, step: dt.timedelta) -> list[dt.datetime]:
    out, t = [], first
    while t <= last:
        out.append(t)
        t += step
    return out


PASS = dt.timedelta(seconds=30)
TEN = dt.timedelta(minutes=10)


def test_a_wildcard_entry_running_in_both_occurrences_holds():
    fires = every(START + TEN + PASS, END - TEN + PASS, TEN)  # 01:10 EEST … 04:50 EET
    assert judge("*/10 * * * *", fires) == (True, [])


def test_a_wildcard_entry_that_skips_the_repeated_hour_is_named():
    fires = [
        t
        for t in every(START + TEN + PASS, END - TEN + PASS, TEN)
        if not dt.datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
        <= t
        < dt.datetime(2026, 10, 25, 2, 0, tzinfo=UTC)
    ]
    ok, evidence = judge("*/10 * * * *", fires)
    assert not ok
    assert evidence == [
        "job: skipped the repeated hour: 6 runs due 2026-10-25 03:00:00 EET – 2026-10-25 03:50:00 "
        "EET never fired (a wildcard cron runs in both occurrences, a 70-minute gap)"
    ]


def test_a_storm_of_consecutive_passes_is_one_line():
    base = every(START + TEN + PASS, END - TEN + PASS, TEN)
    storm = every(
        dt.datetime(2026, 10, 25, 1, 0, 30, tzinfo=UTC),
        dt.datetime(2026, 10, 25, 1, 8, 0, tzinfo=UTC),
        PASS,
    )
    ok, evidence = judge("*/10 * * * *", sorted(set(base) | set(storm)))
    assert not ok
    assert len(evidence) == 1
    assert evidence[0].startswith("job: fired 16 times on consecutive scheduler passes")


def test_a_fixed_entry_fired_in_both_occurrences_is_a_double_fire():
    first = dt.datetime(2026, 10, 25, 0, 30, 30, tzinfo=UTC)  # 03:30:30 EEST
    ok, evidence = judge("30 3 * * *", [first, first + dt.timedelta(hours=1)])
    assert not ok
    assert evidence == [
        "job: 03:30 fired twice in the repeated hour, at 2026-10-25 03:30:30 EEST and again at "
        "2026-10-25 03:30:30 EET (a fixed cron entry, '30 3 * * *', fires once there)"
    ]


def test_a_fixed_entry_that_never_fired_is_named():
    ok, evidence = judge("30 3 * * *", [])
    assert not ok
    assert evidence == [
        "job: 2026-10-25 03:30:00 EEST never fired (due by 2026-10-25 03:30:31 EEST)"
    ]


def _without_repeated_hour(fires: list[dt.datetime]) -> list[dt.datetime]:
    first, last = (dt.datetime(2026, 10, 25, h, 0, tzinfo=UTC) for h in (1, 2))  # 03:00-04:00 EET
    return [t for t in fires if not first <= t < last]


def test_skipping_the_repeated_hour_is_one_root_cause_across_schedules():
    """Two schedules skip the second 03:00–04:00: a fingerprint each (the schedule's name is
    the subject), one root cause (checker, rule, cause) for the summary."""
    fires = _without_repeated_hour(every(START + TEN + PASS, END - TEN + PASS, TEN))
    verdict = verdict_of({"purge": ("*/10 * * * *", fires), "sync": ("*/10 * * * *", fires)})
    assert not verdict.ok
    assert [(p.rule, p.subject) for p in verdict.problems] == [
        ("skipped-repeated-hour", "purge"),
        ("skipped-repeated-hour", "sync"),
    ]
    assert len({p.fingerprint for p in verdict.problems}) == 2
    (root,) = roots(verdict.problems)
    assert (root.checker, root.rule, root.subjects) == (
        "schedule-adherence",
        "skipped-repeated-hour",
        ["purge", "sync"],
    )
    assert root.cause == (
        "a wildcard cron did not fire in the second occurrence of the repeated hour"
    )
    assert root.first == dt.datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 03:00 EET


def test_a_fixed_entry_that_never_fires_is_one_fingerprint_however_many_times():
    verdict = verdict_of({"hourly-report": ("0 1-4 * * *", [])})
    assert [p.message.split(" never")[0] for p in verdict.problems] == [
        "hourly-report: 2026-10-25 02:00:00 EEST",
        "hourly-report: 2026-10-25 03:00:00 EEST",
        "hourly-report: 2026-10-25 04:00:00 EET",
    ]
    assert {(p.rule, p.subject, p.cause) for p in verdict.problems} == {
        ("missed-slot", "hourly-report", "an intended time never fired")
    }
    assert len({p.fingerprint for p in verdict.problems}) == 1


def test_storms_and_double_fires_are_named_by_their_rules():
    base = every(START + TEN + PASS, END - TEN + PASS, TEN)
    storm = every(
        dt.datetime(2026, 10, 25, 1, 0, 30, tzinfo=UTC),
        dt.datetime(2026, 10, 25, 1, 8, 0, tzinfo=UTC),
        PASS,
    )
    first = dt.datetime(2026, 10, 25, 0, 30, 30, tzinfo=UTC)
    verdict = verdict_of(
        {
            "stormy": ("*/10 * * * *", sorted(set(base) | set(storm))),
            "twice": ("30 3 * * *", [first, first + dt.timedelta(hours=1)]),
        }
    )
    assert [(p.rule, p.subject, p.at) for p in verdict.problems] == [
        ("storm", "stormy", storm[0]),
        ("double-fire", "twice", first + dt.timedelta(hours=1)),
    ]
