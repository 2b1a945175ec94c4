"""task-metrics: bounds on queue wait, duration and failure rate, from recorded runs alone."""

from __future__ import annotations

import datetime as dt

import pytest

from harness.checkers import RunContext, Verdict
from harness.checkers.expectations import parse
from harness.checkers.task_metrics import check
from harness.record.metrics import percentile
from harness.record.run import RunRecord, ScenarioFacts, Snapshot
from harness.record.timeline import Timeline
from harness.scenario import ScenarioError
from harness.sim.cluster import ClusterSpec

START = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
END = START + dt.timedelta(hours=2)


def _task(tl: Timeline, tid: str, func: str, enq: int, start: int | None, run: int = 10,
          outcome: str = "ok", group: str | None = None, attempts: int = 1) -> None:  # fmt: skip
    at = START + dt.timedelta(seconds=enq)
    tl.add(at, "task.enqueued", task=tid, func=func, args=[], kwargs={}, queue="q", group=group)
    if start is None:
        return
    for n in range(1, attempts + 1):
        s = START + dt.timedelta(seconds=start + (n - 1) * 100)
        tl.add(s, "task.started", task=tid, func=func, attempt=n, cluster="q")
        last = n == attempts
        tl.add(s + dt.timedelta(seconds=run), "task.finished", task=tid, func=func, attempt=n,
               cluster="q", outcome=outcome if last else "failed")  # fmt: skip


def _verdict(tl: Timeline, table: dict) -> Verdict:
    facts = ScenarioFacts("t", "<test>", "UTC", START, END - START, seed=0)
    record = RunRecord(
        scenario=facts, seed=0, end=END, timeline=tl, clusters=[ClusterSpec(name="q")],
        default_cluster="q", snapshot=Snapshot(),
    )  # fmt: skip
    return check(RunContext(record, parse({"task-metrics": table}, "<test>")))


def _judge(tl: Timeline, table: dict) -> tuple[bool, str, list[str]]:
    verdict = _verdict(tl, table)
    return verdict.ok, verdict.message, verdict.evidence


def test_nearest_rank_percentiles():
    assert percentile([], 95) is None
    assert percentile([3, 1, 2], 50) == 2
    assert percentile(range(1, 101), 95) == 95 and percentile(range(1, 101), 100) == 100


def test_wait_bound_per_glob_holds_and_fails():
    tl = Timeline()
    for i in range(20):  # billing waits 5 s each; one report waits 10 minutes
        _task(tl, f"b{i}", "apps.billing.collect", enq=i * 10, start=i * 10 + 5)
    _task(tl, "r", "apps.reports.monthly", enq=0, start=600)
    ok, message, _ = _judge(tl, {"apps.billing.*": {"max_wait": "1m", "p95_wait": "10s"}})
    assert ok and "apps.billing.*: p95_wait 5.0 s ≤ 10.0 s, 20 tasks" in message
    ok, message, evidence = _judge(tl, {"apps.*": {"max_wait": "1m"}})
    assert not ok and evidence == ["apps.*: max_wait 10.0 min > 1.0 min (21 tasks)"]


def test_a_task_never_started_counts_its_wait_so_far():
    tl = Timeline()
    _task(tl, "a", "apps.billing.collect", enq=0, start=None)
    ok, _, evidence = _judge(tl, {"apps.billing.*": {"max_wait": "1h"}})
    assert (
        not ok and "max_wait 2.0 h > 60.0 min (1 tasks, 1 still waiting at the end)" in evidence[0]
    )


def test_per_group_bounds_each_tenant_and_ignores_the_named_ones():
    tl = Timeline()
    for i in range(50):  # the reseller's backlog: waits up to 49 minutes
        _task(tl, f"r{i}", "apps.prov.create", enq=0, start=i * 60, group="customer-1")
    _task(tl, "o1", "apps.prov.create", enq=100, start=130, group="customer-2")
    _task(tl, "o2", "apps.prov.create", enq=200, start=500, group="customer-3")
    rule = {"max_wait": "3m", "per": "group", "ignore_groups": ["customer-1"]}
    ok, _, evidence = _judge(tl, {"apps.prov.*": rule})
    assert not ok and evidence == [
        "apps.prov.*, group customer-3: max_wait 5.0 min > 3.0 min (1 tasks)"
    ]
    problems = _verdict(tl, {"apps.prov.*": {**rule, "ignore_groups": []}}).problems
    assert [p.message.split(":")[0] for p in problems] == [
        "apps.prov.*, group customer-1",
        "apps.prov.*, group customer-3",
    ]
    # A tenant is data (its id changes with the setup): two groups over the bound are two
    # instances of one problem about the rule as written.
    assert {(p.rule, p.subject, p.cause) for p in problems} == {
        ("max-wait", "apps.prov.*", "max_wait over 3.0 min in a group")
    }
    assert len({p.fingerprint for p in problems}) == 1
    _task(tl, "o3", "apps.prov.create", enq=900, start=910, group="customer-3")
    ok, message, _ = _judge(tl, {"apps.prov.*": {**rule, "max_wait": "6m"}})
    assert ok and "(worst: group customer-3 of 2)" in message


def test_duration_and_failure_rate_bounds_count_runs_and_retries():
    tl = Timeline()
    _task(tl, "a", "apps.x.f", enq=0, start=1, run=40, attempts=3)  # two failed runs, then ok
    _task(tl, "b", "apps.x.f", enq=0, start=2, run=5)
    ok, _, evidence = _judge(tl, {"apps.x.*": {"max_failure_rate": 0.3, "max_duration": "30s"}})
    assert not ok
    assert "apps.x.*: max_duration 40.0 s > 30.0 s (4 runs)" in evidence
    assert "apps.x.*: failure rate 50% > 30% (2 of 4 runs)" in evidence
    problems = _verdict(tl, {"apps.x.*": {"max_failure_rate": 0.3, "max_duration": "30s"}}).problems
    assert [(p.rule, p.subject, p.cause) for p in problems] == [
        ("max-duration", "apps.x.*", "max_duration over 30.0 s"),
        ("max-failure-rate", "apps.x.*", "failure rate over 30%"),
    ]


def test_without_rules_it_reports_the_worst_p95_wait_and_holds():
    tl = Timeline()
    _task(tl, "a", "apps.x.slow", enq=0, start=300)
    _task(tl, "b", "apps.x.fast", enq=0, start=1)
    ok, message, _ = _judge(tl, {})
    assert ok and message == "2 task functions; worst p95 queue wait 5.0 min (slow)"


def test_a_rule_matching_nothing_fails():
    tl = Timeline()
    _task(tl, "a", "apps.x.f", enq=0, start=1)
    ok, _, evidence = _judge(tl, {"apps.billing.*": {"max_wait": "1m"}})
    assert not ok and evidence == [
        "apps.billing.*: no task matched (check the glob and the groups)"
    ]
    (problem,) = _verdict(tl, {"apps.billing.*": {"max_wait": "1m"}}).problems
    assert (problem.rule, problem.subject) == ("rule-matches-nothing", "apps.billing.*")


@pytest.mark.parametrize(
    "table,reason",
    [
        ({"apps.*": {}}, "no bound given"),
        ({"apps.*": {"max_wait": "soon"}}, "not a duration"),
        ({"apps.*": {"max_failure_rate": 2}}, "between 0 and 1"),
        ({"apps.*": {"max_wait": "1m", "per": "queue"}}, "the only grouping is 'group'"),
        ({"apps.*": {"max_wait": "1m", "ignore_groups": ["x"]}}, "needs per = 'group'"),
        ({"apps.*": {"max_wait": "1m", "p99_wait": "1m"}}, "unknown key"),
    ],
)
def test_bad_options_are_one_line_with_the_key_path(table, reason):
    with pytest.raises(ScenarioError, match=reason) as info:
        parse({"task-metrics": table}, "s.toml")
    assert str(info.value).startswith("s.toml: expect.task-metrics")
