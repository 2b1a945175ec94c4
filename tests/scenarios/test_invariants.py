"""A project's own invariants in a replay: declared by dotted path, rows collected at the end,
at each midnight and after named tasks, kept in the record, judged again without a database —
and every mistake one line before anything runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from harness.checkers.custom import InvariantError
from harness.record.run import RunRecord
from harness.run.judge import judge
from harness.scenario import Scenario, ScenarioError, SetupStep, read
from harness.scenario.resolve import resolve_invariants

HERE = Path(__file__).parent
FIXTURE = "tests.fixture_apps.invariants"


def scenario(*custom: dict, **fields) -> Scenario:
    """A day and a half of the reference platform's billing and common schedules, from 00:20
    (so the stop at midnight is not one of the runner's hourly ones)."""
    base = read(str(HERE / "activity-forgotten-purge.toml"))
    expect = {"checks": ["activity"], "custom": list(custom), **fields.pop("expect", {})}
    return dataclasses.replace(
        base,
        setup=[*base.setup, SetupStep(command="setup_common_tasks")],
        start=base.start + dt.timedelta(minutes=20),
        duration=dt.timedelta(hours=36),
        expect=expect,
        checks=None,
        project_root=HERE.parents[1],
        paths=[HERE.parents[1] / "reference"],
        **fields,
    )


@pytest.mark.dbpath
def test_rows_are_collected_at_midnight_after_named_tasks_and_at_the_end(run_scenario):
    secret = "apps.billing.tasks.generate_daily_invoices"  # a literal secret value, for redaction
    result = run_scenario(
        scenario(
            {"call": f"{FIXTURE}:schedules_ahead", "options": {"most": 3}},
            {"call": f"{FIXTURE}.no_failed_billing"},
            expect={"secrets": {"values": [secret]}},
        )
    )
    collected = result.record.snapshot.collected["schedules-ahead"]
    # one local midnight (Bucharest) in the window: 16 September 00:00 EEST
    assert [e["at"] for e in collected["nightly"]] == [dt.datetime(2026, 9, 15, 21, tzinfo=dt.UTC)]
    assert {r["name"] for r in collected["nightly"][0]["rows"]} == {
        "billing-daily-invoices", "billing-payment-retries", "customers-inactive-cleanup",
        "common-cleanup-old-tasks",
    }  # fmt: skip
    runs = [e for e in result.timeline.of("task.started")
            if e.data["func"] == "apps.billing.tasks.retry_failed_payments"]  # fmt: skip
    assert len(runs) > 30
    assert [(e["at"], e["task"], e["func"], e["attempt"]) for e in collected["retries"]] == [
        (e.at, e.data["task"], e.data["func"], e.data["attempt"]) for e in runs
    ]
    assert {r["name"] for r in collected["retries"][0]["rows"]} == {
        "billing-daily-invoices",
        "billing-payment-retries",
    }  # the filter: billing schedules only
    assert [e["at"] for e in collected["at_end"]] == [result.record.end]
    funcs = {r["func"] for r in collected["at_end"][0]["rows"]}
    assert "«secret:secret value #1»" in funcs and secret not in funcs

    verdict = result.verdict("schedules-ahead")
    assert not verdict.ok
    assert [(p.checker, p.rule, p.subject, p.cause) for p in verdict.problems] == [
        ("schedules-ahead", "too-many", "schedules", "more than 3 schedules")
    ]
    assert result.verdict("no-failed-billing").ok
    assert result.verdict("no-failed-billing").message == (
        "No billing task failed (a plain function: an invariant that collects nothing)."
    )

    # judged again from the JSON alone: the same verdicts, the same fingerprints
    saved = RunRecord.from_json(result.record.to_json())
    again = judge(saved).verdicts
    assert [v.to_dict() for v in again] == [v.to_dict() for v in result.verdicts]
    # and with other expectations: the option is the invariant's own
    relaxed = {**saved.scenario.expect, "custom": [
        {"call": f"{FIXTURE}:schedules_ahead", "options": {"most": 10}}]}  # fmt: skip
    assert next(v for v in judge(saved, relaxed).verdicts if v.name == "schedules-ahead").ok
    # collecting changes nothing the run does: the same timeline as without invariants (the
    # same secret configured: every output of the run shows it as its marker)
    plain = run_scenario(scenario(expect={"secrets": {"values": [secret]}}))
    assert plain.timeline.dumps() == result.timeline.dumps()


def _error(*custom: dict, **fields) -> str:
    with pytest.raises((ScenarioError, InvariantError)) as info:
        resolve_invariants(scenario(*custom, **fields))
    text = str(info.value)
    assert "\n" not in text
    return text


SOURCE = str(HERE / "activity-forgotten-purge.toml")


@pytest.mark.parametrize(
    ("call", "options", "reason"),
    [
        ("tests.fixture_apps.nowhere:f", {}, "expect.custom[0].call: cannot import "
         "'tests.fixture_apps.nowhere': ModuleNotFoundError: No module named "
         "'tests.fixture_apps.nowhere' (run from the project root)"),
        (f"{FIXTURE}:nothing", {}, f"expect.custom[0].call: module '{FIXTURE}' has no 'nothing'"),
        (f"{FIXTURE}:NOT_AN_INVARIANT", {}, f"expect.custom[0].call: '{FIXTURE}:NOT_AN_INVARIANT'"
         " is not an invariant (int): a function of ctx, or one decorated with harness.invariant"),
        (f"{FIXTURE}:wrong_label", {}, "expect.custom[0].call: invariant 'wrong-label' collects "
         "'charges' from 'billing.Chrage': no installed model has this label (app_label.Model)"),
        (f"{FIXTURE}:wrong_field", {}, "expect.custom[0].call: invariant 'wrong-field' collects "
         "'invoices' from billing.Invoice: Cannot resolve keyword 'totl' into field. Choices "),
        (f"{FIXTURE}:wrong_when", {}, "expect.custom[0].call: invariant 'wrong-when' collects "
         "'invoices': when='weekly': use 'end', 'daily' or 'after:<task function glob>'"),
        (f"{FIXTURE}:named_like_a_builtin", {}, "expect.custom[0]: 'lost-jobs' is a built-in "
         "checker's name: give it another (name = '…')"),
        (f"{FIXTURE}:schedules_ahead", {"least": 1}, "expect.custom[0].options: schedules-ahead: "
         "got an unexpected keyword argument 'least'"),
    ],
)  # fmt: skip
def test_every_mistake_is_one_line_at_resolve_time(call, options, reason):
    assert _error({"call": call, "options": options}).startswith(f"{SOURCE}: {reason}")


def test_two_invariants_of_one_name_and_an_unknown_check_are_refused():
    twice = {"call": f"{FIXTURE}.no_failed_billing"}
    assert _error(twice, twice) == (
        f"{SOURCE}: expect.custom[1]: 'no-failed-billing' is another invariant's name: give it "
        "another (name = '…')"
    )
    renamed = resolve_invariants(scenario(twice, {**twice, "name": "billing-never-fails"}))
    assert [c.name for c in renamed] == ["no-failed-billing", "billing-never-fails"]
    text = _error({"call": f"{FIXTURE}:raises"}, expect={"checks": ["!raisse"]})
    assert text.startswith(f"{SOURCE}: expect.checks[0]: unknown checker '!raisse'; known: ")
