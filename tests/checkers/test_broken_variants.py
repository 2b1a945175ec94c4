"""Each checker against a system broken on purpose (``tests/fixture_apps/broken_tasks.py``).

Every test replays a small scenario built with the Python API (``broken.py``) on its own fresh
database and asserts that the right checker fails, naming the business key (the call) and
virtual times, and that its problems have the fingerprint parts they should: several instances
of one bug are one fingerprint.
"""

from __future__ import annotations

import datetime as dt

import pytest

from harness.scenario import SetupStep
from tests.checkers import broken
from tests.checkers.broken import HERE, load, scenario

pytestmark = pytest.mark.dbpath


def parts(verdict) -> set[tuple[str, str, str]]:
    """The (rule, subject, cause) of the verdict's problems: what makes them the same problem."""
    return {(p.rule, p.subject, p.cause) for p in verdict.problems}


def fingerprints(verdict, rule: str | None = None) -> set[str]:
    return {p.fingerprint for p in verdict.problems if rule is None or p.rule == rule}


def failing(result, name: str):
    verdict = result.verdict(name)
    assert not verdict.ok, f"{name} should fail: {verdict.message}"
    return verdict


def test_lost_jobs_sees_a_queue_nobody_serves(run_scenario):
    result = run_scenario(broken.unserved())
    v = failing(result, "lost-jobs")
    assert "noop(1)" in v.message and "'reports'" in v.message
    assert "2026-02-10 10:19:23 EET" in v.message


def test_duplicate_effects_sees_a_charge_retried_without_idempotency_key(run_scenario):
    result = run_scenario(broken.no_idempotency_key())
    v = failing(result, "duplicate-effects")
    assert "charge.succeeded for '1' happened 2×" in v.message
    assert "2026-02-10 10:18:23 EET" in v.message and "10:19:23 EET" in v.message
    assert any("charge.succeeded for '2' happened 2×" in e for e in v.evidence)
    # Two invoices charged twice: two instances of one problem, about the effect (the invoice
    # is data, in the message).
    assert len(v.problems) == 2 and len(fingerprints(v)) == 1
    cause = "happened more than once for one business key, by retries of one task"
    assert parts(v) == {("duplicate", "payments charge.succeeded", cause)}
    resend = failing(result, "retry-discipline")  # and the blind resend itself
    cause = "resent after an unknown outcome without a read or the same idempotency key"
    assert parts(resend) == {("blind-resend", "payments payment_intent.create", cause)}
    assert len(resend.problems) == 2 and len(fingerprints(resend)) == 1


@pytest.mark.parametrize("named", [False, True], ids=["default-keys", "named-key"])
def test_duplicate_charges_under_another_metadata_key(run_scenario, named):
    """Charges keyed by ``metadata[subscription]``: with the default key names the duplicate is
    invisible and the verdict says why; naming the key makes it a failure."""
    options = {"business_key_metadata": ["subscription"]} if named else {}
    result = run_scenario(
        scenario(
            "own-metadata",
            loads=[load("enqueue_own_metadata_charge", 1)],
            fakes=[broken.payments(**options)],
            cluster={"retry": 60, "max_attempts": 3},
        )
    )
    v = result.verdict("duplicate-effects")
    if named:
        assert not v.ok and "charge.succeeded for '1' happened 2×" in v.message
        assert [p.subject for p in v.problems] == ["payments charge.succeeded"]
    else:
        assert v.ok and not v.problems
        assert "2 charge.succeeded effects carried none of the metadata keys" in v.message
        assert "business_key_metadata" in v.message


def test_schedule_adherence_sees_a_daily_schedule_anchored_at_creation(run_scenario):
    v = failing(run_scenario(broken.anchored_daily()), "schedule-adherence")
    assert "fixture-daily-report" in v.message
    assert "2026-02-10 10:17:23 EET" in v.message and "02:00" in v.message
    assert any("2026-02-11 02:00:00 EET never fired" in e for e in v.evidence)
    name = "fixture-daily-report"  # the schedule's name, not its id
    assert parts(v) == {
        ("off-pinned-time", name, "first run not at its pinned local time 02:00"),
        ("off-slot", name, "fired for a slot that is not one of its wall-clock slots"),
        ("missed-slot", name, "a slot never fired"),
    }
    # It fired at 10:17 on both days: two instances, one fingerprint, first and last time.
    off = [p for p in v.problems if p.rule == "off-slot"]
    assert len(off) == 2 and len(fingerprints(v, "off-slot")) == 1
    assert [p.at for p in off] == sorted(p.at for p in off) and off[0].at.day != off[1].at.day


def test_retry_discipline_sees_retry_shorter_than_the_task(run_scenario):
    sc = scenario(
        "retry-too-short",
        loads=[load("enqueue_slow", 1)],
        cluster={"retry": 30, "timeout": None},
        durations_per_func={f"{HERE}.noop": 100.0},
    )
    v = failing(run_scenario(sc), "retry-discipline")
    assert "noop(1)" in v.message and "attempt 2 started at 2026-02-10 10:18:53 EET" in v.message
    assert "retry 30 s is shorter" in v.message
    cause = "started again while an earlier attempt still ran (retry shorter than run time)"
    assert ("overlap", f"{HERE}.noop", cause) in parts(v)


def test_retry_discipline_sees_a_task_redelivered_forever(run_scenario):
    v = failing(run_scenario(broken.redelivered_forever()), "retry-discipline")
    assert "always_fails(1)" in v.message and "forever" in v.message
    assert "max_attempts=0" in v.message
    # Three tasks of one function, each failing 17 to 19 times: one problem per task, one
    # fingerprint for the function.
    cause = "keeps failing and is redelivered forever (max_attempts=0, ack_failures=False)"
    assert parts(v) == {("redelivered-forever", f"{HERE}.always_fails", cause)}
    assert len(v.problems) == 3 and len(fingerprints(v)) == 1
    assert [p.message.split(" (task")[0] for p in v.problems] == [
        "always_fails(1)",
        "always_fails(2)",
        "always_fails(3)",
    ]


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
    v = failing(run_scenario(broken.fan_out()), "queue-bound")
    assert "backlog reached" in v.message and "(max_depth 10)" in v.message
    assert "2026-02-10 10:1" in v.message


def test_enqueue_contract_sees_unknown_kwargs_and_wrong_paths(run_scenario):
    result = run_scenario(broken.bad_enqueues())
    v = failing(result, "enqueue-contract")
    assert "send_reminder(1, schedule=" in v.message
    assert "unexpected keyword argument 'schedule'" in v.message
    assert "2026-02-10 10:18:23 EET" in v.message
    assert any("provision_order_item(1)" in e and "does not resolve" in e for e in v.evidence)
    missing = (
        'path does not resolve (Module "tests.fixture_apps.broken_tasks" does not define a '
        '"provision_order_item" attribute/class)'
    )
    unexpected = "got an unexpected keyword argument 'schedule'"
    assert parts(v) == {
        ("arguments-rejected", f"{HERE}.send_reminder", unexpected),
        ("path-unresolved", f"{HERE}.provision_order_item", missing),
    }
    # PRAHO's schedule= bug, three calls: one fingerprint per function, in both checkers that
    # see it (the issue counted 126 and 114 lines for it).
    assert len(fingerprints(v, "arguments-rejected")) == 1
    assert sum(p.rule == "arguments-rejected" for p in v.problems) == 3
    retries = failing(result, "retry-discipline")
    forever = [p for p in retries.problems if p.subject == f"{HERE}.send_reminder"]
    assert len(forever) == 3 and len({p.fingerprint for p in forever}) == 1
    assert {p.rule for p in forever} == {"redelivered-forever"}


def test_secrets_sees_a_key_in_results_and_logs(run_scenario):
    v = failing(run_scenario(broken.leaky()), "secrets")
    assert "setting STRIPE_SECRET_KEY found in task" in v.message
    assert any("log line" in e for e in v.evidence)
    from django.conf import settings

    assert all(settings.STRIPE_SECRET_KEY not in e for e in [v.message, *v.evidence])


def test_audit_sees_an_unaudited_failure(run_scenario):
    v = failing(run_scenario(broken.unaudited()), "audit")
    assert "unaudited_failure(1)" in v.message and "2026-02-10 10:18:23 EET" in v.message
    assert any("unaudited_failure(2)" in e and "10:19:23 EET" in e for e in v.evidence)
    cause = "a failed execution left no common.AuditEvent row"
    assert parts(v) == {("unaudited", f"{HERE}.unaudited_failure", cause)}
    assert len(v.problems) == 2 and len(fingerprints(v)) == 1


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
    # About the rows (their names); the unknown kwarg is the same cause as a call's.
    missing, unknown = v.problems
    assert (missing.rule, missing.subject) == ("path-unresolved", "schedule fixture-missing-func")
    assert missing.cause.startswith("path does not resolve (") and "provision_order_item" in (
        missing.cause
    )
    assert (unknown.rule, unknown.subject, unknown.cause) == (
        "arguments-rejected",
        "schedule fixture-unknown-kwarg",
        "got an unexpected keyword argument 'schedule'",
    )


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
    v = failing(run_scenario(broken.bad_schedule_args()), "driver-findings")
    assert "Could not create task from schedule" in v.message
    assert "2026-02-10 10:17:53 EET" in v.message


def test_task_metrics_sees_waits_over_their_bound_and_a_rule_on_nothing(run_scenario):
    v = failing(run_scenario(broken.slow_waits()), "task-metrics")
    assert v.message.startswith(f"2 bounds missed; first: {HERE}.noop: max_wait 1.3 min > 10.0 s")
    assert "apps.billing.*: no task matched" in v.evidence[1]
    assert parts(v) == {  # about the rules as the project wrote them
        ("max-wait", f"{HERE}.noop", "max_wait over 10.0 s"),
        ("rule-matches-nothing", "apps.billing.*", "no task matched the glob (and its groups)"),
    }


def test_quiet_failures_sees_an_error_reported_in_the_result(run_scenario):
    v = failing(run_scenario(broken.quiet()), "quiet-failures")
    assert "quiet_failure(1)" in v.message and "counted as a success" in v.message
    assert len(v.problems) == 2 and len(fingerprints(v)) == 1  # order 1 and order 2: one cause
    assert "order N" in v.problems[0].cause


def test_load_outcomes_sees_a_load_that_raises(run_scenario):
    v = failing(run_scenario(broken.raising_load()), "load-outcomes")
    assert "always_fails: 2 of 2 arrivals failed" in v.message
    assert parts(v) == {("raised", "always_fails", "RuntimeError: upstream refused job N")}
