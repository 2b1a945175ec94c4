"""Each checker against a system broken on purpose (``tests/fixture_apps/broken_tasks.py``).

Every test replays a small scenario built with the Python API on its own fresh database and
asserts that the right checker fails, naming the business key (the call) and virtual times.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from harness.scenario import FakeSpec, LoadSpec, Scenario, SetupStep

pytestmark = pytest.mark.dbpath

HERE = "tests.fixture_apps.broken_tasks"
ZONE = "Europe/Bucharest"
START = dt.datetime(2026, 2, 10, 10, 17, 23, tzinfo=zoneinfo.ZoneInfo(ZONE))


def scenario(name: str, **fields) -> Scenario:
    fields.setdefault("duration", dt.timedelta(minutes=30))
    return Scenario(name=name, start=START, time_zone=ZONE, seed=1, **fields)


def load(call: str, *offsets_min: int, args=("{n}",)) -> LoadSpec:
    return LoadSpec(
        name=call.rsplit(".", 1)[-1],
        call=f"{HERE}.{call}",
        args=list(args),
        at=[dt.timedelta(minutes=m) for m in offsets_min],
    )


def failing(result, name: str):
    verdict = result.verdict(name)
    assert not verdict.ok, f"{name} should fail: {verdict.message}"
    return verdict


def test_lost_jobs_sees_a_queue_nobody_serves(run_scenario):
    result = run_scenario(scenario("unserved", loads=[load("enqueue_to_unserved_cluster", 2)]))
    v = failing(result, "lost-jobs")
    assert "noop(1)" in v.message and "'reports'" in v.message
    assert "2026-02-10 10:19:23 EET" in v.message


def test_duplicate_effects_sees_a_charge_retried_without_idempotency_key(run_scenario):
    payments = FakeSpec(
        kind="payments",
        url="{settings.STRIPE_API_BASE}",
        options={"secret_key": "{settings.STRIPE_SECRET_KEY}"},
        faults=[{"type": "lost_response", "fake": "payments", "max_count": 1}],
    )
    result = run_scenario(
        scenario(
            "no-idempotency-key",
            loads=[load("enqueue_charge", 1)],
            fakes=[payments],
            cluster={"retry": 60, "max_attempts": 3},
        )
    )
    v = failing(result, "duplicate-effects")
    assert "charge.succeeded for '1' happened 2×" in v.message
    assert "2026-02-10 10:18:23 EET" in v.message and "10:19:23 EET" in v.message
    assert not result.verdict("retry-discipline").ok  # and the blind resend itself


@pytest.mark.parametrize("named", [False, True], ids=["default-keys", "named-key"])
def test_duplicate_charges_under_another_metadata_key(run_scenario, named):
    """Charges keyed by ``metadata[subscription]``: with the default key names the duplicate is
    invisible and the verdict says why; naming the key makes it a failure."""
    options = {"secret_key": "{settings.STRIPE_SECRET_KEY}"}
    if named:
        options["business_key_metadata"] = ["subscription"]
    payments = FakeSpec(
        kind="payments",
        url="{settings.STRIPE_API_BASE}",
        options=options,
        faults=[{"type": "lost_response", "fake": "payments", "max_count": 1}],
    )
    result = run_scenario(
        scenario(
            "own-metadata",
            loads=[load("enqueue_own_metadata_charge", 1)],
            fakes=[payments],
            cluster={"retry": 60, "max_attempts": 3},
        )
    )
    v = result.verdict("duplicate-effects")
    if named:
        assert not v.ok and "charge.succeeded for '1' happened 2×" in v.message
    else:
        assert v.ok
        assert "2 charge.succeeded effects carried none of the metadata keys" in v.message
        assert "business_key_metadata" in v.message


def test_schedule_adherence_sees_a_daily_schedule_anchored_at_creation(run_scenario):
    sc = scenario(
        "anchored-daily",
        duration=dt.timedelta(days=1, hours=1),
        setup=[SetupStep(call=f"{HERE}.schedule_daily_at_creation")],
        expect={"schedule-adherence": {"at": {"fixture-daily-report": "02:00"}}},
    )
    v = failing(run_scenario(sc), "schedule-adherence")
    assert "fixture-daily-report" in v.message
    assert "2026-02-10 10:17:23 EET" in v.message and "02:00" in v.message
    assert any("2026-02-11 02:00:00 EET never fired" in e for e in v.evidence)


def test_retry_discipline_sees_retry_shorter_than_the_task(run_scenario):
    sc = scenario(
        "retry-too-short",
        loads=[load("enqueue_slow", 1)],
        cluster={"retry": 30, "timeout": None},
        durations={f"{HERE}.noop": 100.0},
    )
    v = failing(run_scenario(sc), "retry-discipline")
    assert "noop(1)" in v.message and "attempt 2 started at 2026-02-10 10:18:53 EET" in v.message
    assert "retry 30 s is shorter" in v.message


def test_retry_discipline_sees_a_task_redelivered_forever(run_scenario):
    sc = scenario(
        "redelivered-forever",
        duration=dt.timedelta(minutes=20),
        loads=[load("enqueue_always_fails", 1)],
        cluster={"retry": 60, "max_attempts": 0, "ack_failures": False},
        expect={"retry-discipline": {"max_attempts": 50}},
    )
    v = failing(run_scenario(sc), "retry-discipline")
    assert "always_fails(1)" in v.message and "forever" in v.message
    assert "max_attempts=0" in v.message


def test_with_no_bound_anywhere_the_verdict_says_forever_not_a_made_up_bound(run_scenario):
    sc = scenario(
        "redelivered-forever-unbounded",
        duration=dt.timedelta(minutes=20),
        loads=[load("enqueue_always_fails", 1)],
        cluster={"retry": 60, "max_attempts": 0, "ack_failures": False},
    )
    v = failing(run_scenario(sc), "retry-discipline")
    assert "always_fails(1)" in v.message
    assert "redeliver it every 60 s forever" in v.message and "bound" not in v.message


def test_queue_bound_sees_a_fan_out_backlog(run_scenario):
    sc = scenario(
        "fan-out",
        duration=dt.timedelta(minutes=10),
        loads=[load("start_fan_out", 1, args=[5])],
        cluster={"workers": 1},
        durations={f"{HERE}.fan_out": 1.0},
        expect={"queue-bound": {"max_depth": 10}},
    )
    v = failing(run_scenario(sc), "queue-bound")
    assert "backlog reached" in v.message and "(max_depth 10)" in v.message
    assert "2026-02-10 10:1" in v.message


def test_enqueue_contract_sees_unknown_kwargs_and_wrong_paths(run_scenario):
    sc = scenario(
        "bad-enqueues",
        loads=[load("enqueue_reminder_with_schedule", 1), load("enqueue_wrong_path", 2)],
    )
    v = failing(run_scenario(sc), "enqueue-contract")
    assert "send_reminder(1, schedule=" in v.message
    assert "unexpected keyword argument 'schedule'" in v.message
    assert "2026-02-10 10:18:23 EET" in v.message
    assert any("provision_order_item(1)" in e and "does not resolve" in e for e in v.evidence)


def test_secrets_sees_a_key_in_results_and_logs(run_scenario):
    sc = scenario(
        "leaky",
        loads=[load("enqueue_leaky", 1)],
        expect={"secrets": {"settings": ["STRIPE_SECRET_KEY"], "patterns": []}},
    )
    v = failing(run_scenario(sc), "secrets")
    assert "setting STRIPE_SECRET_KEY found in task" in v.message
    assert any("log line" in e for e in v.evidence)
    from django.conf import settings

    assert all(settings.STRIPE_SECRET_KEY not in e for e in [v.message, *v.evidence])


def test_audit_sees_an_unaudited_failure(run_scenario):
    sc = scenario(
        "unaudited",
        loads=[load("enqueue_unaudited", 1)],
        cluster={"max_attempts": 1},
        expect={"audit": {"model": "common.AuditEvent", "require": ["effects", "failures"]}},
    )
    v = failing(run_scenario(sc), "audit")
    assert "unaudited_failure(1)" in v.message and "2026-02-10 10:18:23 EET" in v.message


def test_audit_of_failures_is_a_policy_not_a_default(run_scenario):
    """A project that audits only external effects is not failed for unaudited failures."""
    sc = scenario(
        "unaudited-by-policy",
        loads=[load("enqueue_unaudited", 1)],
        cluster={"max_attempts": 1},
        expect={"audit": {"model": "common.AuditEvent"}},
    )
    v = run_scenario(sc).verdict("audit")
    assert v.ok, v.message


def test_enqueue_contract_judges_schedules_as_setup_left_them(run_scenario):
    """Their first runs lie beyond the 30-minute window: reported at setup, not at a fire."""
    sc = scenario("setup-schedules", setup=[SetupStep(call=f"{HERE}.schedules_that_cannot_run")])
    result = run_scenario(sc)
    assert not result.timeline.of("schedule.fired")
    v = failing(result, "enqueue-contract")
    assert len(v.evidence) == 2
    assert v.evidence[0].startswith(
        "schedule 'fixture-missing-func' as setup left it at 2026-02-10 10:17:23 EET: "
        "provision_order_item(): path does not resolve"
    )
    assert "schedule 'fixture-unknown-kwarg'" in v.evidence[1]
    assert "got an unexpected keyword argument 'schedule'" in v.evidence[1]


def test_the_network_guard_refuses_and_names_any_client(run_scenario):
    result = run_scenario(scenario("call-out", loads=[load("enqueue_call_out", 1)]))
    v = failing(result, "driver-findings")
    assert len(v.evidence) == 2
    assert "destination=status.example.com:80" in v.evidence[0]
    assert "client=urllib.request" in v.evidence[0] and "func=" in v.evidence[0]
    assert "call_out" in v.evidence[0] and "at 2026-02-10 10:18:23 EET" in v.evidence[0]
    assert "destination=198.51.100.7:25" in v.evidence[1] and "client=smtplib" in v.evidence[1]
    rows = [e for e in result.timeline.of("task.finished") if e.data["func"].endswith("call_out")]
    assert [e.data["outcome"] for e in rows] == ["ok"]  # the task saw an unreachable host


def test_driver_findings_sees_a_scheduler_pass_that_raises(run_scenario):
    sc = scenario(
        "bad-schedule-args",
        duration=dt.timedelta(minutes=3),
        setup=[SetupStep(call=f"{HERE}.schedule_with_bad_args")],
    )
    v = failing(run_scenario(sc), "driver-findings")
    assert "Could not create task from schedule" in v.message
    assert "2026-02-10 10:17:53 EET" in v.message
