"""A project's own invariants judged from a record alone: what they return becomes a verdict with
fingerprints and baseline treatment; entry points of installed packages run by default and are
chosen by name; every mistake in ``[[expect.custom]]`` is one line."""

from __future__ import annotations

import datetime as dt
import sys
import textwrap
from pathlib import Path

import pytest

from harness import Problem, invariant, rows
from harness.checkers.baseline import Baseline
from harness.checkers.custom import InvariantError, entry_points
from harness.checkers.expectations import parse as parse_expect_table
from harness.checkers.invariants import Invariant
from harness.record.run import RunRecord, ScenarioFacts, Snapshot
from harness.record.timeline import Timeline
from harness.run.judge import judge
from harness.scenario import ScenarioError
from harness.sim.cluster import ClusterSpec

START = dt.datetime(2026, 3, 1, 5, 0, tzinfo=dt.UTC)  # midnight in New York
CHARGES = [
    {"id": 1, "subscription_id": 7, "period": "2026-03-01", "status": "succeeded"},
    {"id": 2, "subscription_id": 8, "period": "2026-03-01", "status": "failed"},
    {"id": 3, "subscription_id": 7, "period": "2026-03-31", "status": "succeeded"},
]


@invariant(
    "billed-once-per-month",
    charges=rows("billing.Charge", "subscription_id", "period", "status"),
)
def billed_once_per_month(ctx, status="succeeded"):
    """Each subscription is charged at most once per calendar month."""
    seen: dict[tuple[int, str], str] = {}
    for row in ctx.collected["charges"][-1]["rows"]:
        if row["status"] != status:
            continue
        key = (row["subscription_id"], row["period"][:7])
        if key in seen:
            yield ctx.problem(
                "billed-twice",
                f"subscription {key[0]}",
                "charged twice in one month",
                f"subscription {key[0]} charged for {seen[key]} and {row['period']}",
                ctx.collected["charges"][-1]["at"],
            )
        seen[key] = row["period"]


def record(collected: dict | None = None, expect: dict | None = None) -> RunRecord:
    facts = ScenarioFacts("t", "<test>", "America/New_York", START, dt.timedelta(days=31), seed=0,
                          expect=expect or {})  # fmt: skip
    end = START + dt.timedelta(days=31)
    return RunRecord(
        scenario=facts, seed=0, end=end, timeline=Timeline(), clusters=[ClusterSpec(name="q")],
        default_cluster="q", snapshot=Snapshot(collected=collected or {}),
    )  # fmt: skip


def verdicts(rec: RunRecord, expect: dict, baseline: Baseline | None = None) -> dict:
    return {v.name: v for v in judge(rec, expect, baseline).verdicts}


HERE = f"{__name__}"
CUSTOM = {"custom": [{"call": f"{HERE}:billed_once_per_month"}], "checks": ["lost-jobs"]}


def collected(rows_: list[dict]) -> dict:
    return {"billed-once-per-month": {"charges": [{"at": START, "rows": rows_}]}}


def test_an_invariant_s_problems_are_a_verdict_with_fingerprints_and_a_baseline():
    found = verdicts(record(collected(CHARGES)), CUSTOM)
    assert list(found) == ["lost-jobs", "billed-once-per-month"]
    verdict = found["billed-once-per-month"]
    assert not verdict.ok
    assert verdict.message == (
        "1 problems; first: subscription 7 charged for 2026-03-01 and 2026-03-31"
    )
    (problem,) = verdict.problems
    assert problem.key == (
        "billed-once-per-month", "billed-twice", "subscription 7", "charged twice in one month"
    )  # fmt: skip
    assert problem.at == START
    held = verdicts(record(collected(CHARGES[:2])), CUSTOM)["billed-once-per-month"]
    assert held.ok
    assert (
        held.message
        == "Each subscription is charged at most once per calendar month; 2 rows collected"
    )
    known = Baseline.of_problems([problem])
    again = verdicts(record(collected(CHARGES)), CUSTOM, known)["billed-once-per-month"]
    assert again.ok and again.known == [problem]
    options = {"custom": [{"call": f"{HERE}:billed_once_per_month",
                           "options": {"status": "failed"}}]}  # fmt: skip
    assert verdicts(record(collected(CHARGES)), options)["billed-once-per-month"].ok


def test_a_run_that_did_not_collect_what_an_invariant_reads_fails_it_and_says_why():
    verdict = verdicts(record(), CUSTOM)["billed-once-per-month"]
    assert [(p.rule, p.subject) for p in verdict.problems] == [("not-collected", "charges")]
    error = "ProgrammingError: relation does not exist"
    failed = {"billed-once-per-month": {"charges": [{"at": START, "rows": [], "error": error}]}}
    verdict = verdicts(record(failed), CUSTOM)["billed-once-per-month"]
    assert verdict.problems[0].message == (
        "charges: collecting it at 2026-03-01 00:00:00 EST failed: ProgrammingError: relation "
        "does not exist"
    )


@invariant
def explodes(ctx):
    raise KeyError("subscription 9")


def says_hello(ctx):
    return ["hello"]


def one_problem(ctx):
    return Problem("someone-else", "r", "s", "c", "m")


def test_an_invariant_that_raises_or_returns_nonsense_fails_in_one_line():
    expect = {"custom": [{"call": f"{HERE}:explodes"}, {"call": f"{HERE}.says_hello"},
                         {"call": f"{HERE}.one_problem", "name": "mine"}]}  # fmt: skip
    found = verdicts(record(), expect)
    assert found["explodes"].problems[0].message == "explodes raised KeyError: 'subscription 9'"
    assert found["explodes"].problems[0].cause == "the invariant raised KeyError: 'subscription N'"
    assert found["says-hello"].problems[0].rule == "not-a-problem"
    assert found["mine"].problems[0].checker == "mine"  # a problem is its invariant's


@pytest.mark.parametrize(
    ("custom", "reason"),
    [
        ({"call": "nodots"}, "expect.custom[0].call: 'nodots' is not a dotted path like "
         "'myproject.invariants:no_double'"),
        ({"call": "a.b", "name": "two words"}, "expect.custom[0].name: 'two words' is not a "
         "checker name (letters, digits, '-', '_', '.')"),
        ({"call": "a.b", "when": "daily"}, "expect.custom[0].when: unknown key"),
        ({"call": "a.b", "options": 3}, "expect.custom[0].options: expected dict, got 3"),
        ({}, "expect.custom[0].call: is required"),
    ],
)  # fmt: skip
def test_the_shape_of_a_custom_entry_is_checked_without_importing_it(custom, reason):
    with pytest.raises(ScenarioError) as info:
        parse_expect_table({"custom": [custom]}, "s.toml")
    assert str(info.value) == f"s.toml: {reason}"
    with pytest.raises(ScenarioError) as info:
        parse_expect_table({"custom": {"call": "a.b"}}, "s.toml")
    assert str(info.value) == "s.toml: expect.custom: expected list, got {'call': 'a.b'}"


def test_an_invariant_module_imports_without_django():
    import subprocess

    code = (
        "import sys; import tests.fixture_apps.invariants as m; "
        "assert 'django.apps' not in sys.modules and 'django.db' not in sys.modules; "
        "print(type(m.schedules_ahead).__name__)"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == Invariant.__name__, out.stderr


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A distribution with two ``dq_harness.checkers`` entry points, on sys.path."""
    (tmp_path / "shared_invariants.py").write_text(
        textwrap.dedent(
            '''
            from harness import invariant

            @invariant("no-tasks-at-all")
            def no_tasks(ctx):
                """Nothing was enqueued (a reusable check, packaged)."""
                return [ctx.problem("ran", "tasks", "something ran")
                        for _ in ctx.timeline.of("task.enqueued")]
            '''
        )
    )
    info = tmp_path / "shared_invariants-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shared-invariants\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[dq_harness.checkers]\nno-tasks-at-all = shared_invariants:no_tasks\n"
        "broken-one = shared_invariants:missing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_entry_points_run_by_default_and_checks_choose_them_by_name(installed):
    assert sorted(entry_points()) == ["broken-one", "no-tasks-at-all"]
    with pytest.raises(InvariantError) as info:
        verdicts(record(), {})
    assert str(info.value) == (
        "<test>: entry point dq_harness.checkers:broken-one: cannot load "
        "'shared_invariants:missing': AttributeError: module 'shared_invariants' has no "
        "attribute 'missing'"
    )
    found = verdicts(record(), {"checks": ["!broken-one"]})
    assert "no-tasks-at-all" in found and "lost-jobs" in found
    assert found["no-tasks-at-all"].message == "Nothing was enqueued (a reusable check, packaged)."
    only = verdicts(record(), {"checks": ["no-tasks-at-all"]})
    assert list(only) == ["no-tasks-at-all"]
    builtin = verdicts(record(), {"checks": ["lost-jobs", "secrets"]})
    assert list(builtin) == ["lost-jobs", "secrets"]
    with pytest.raises(ScenarioError) as info:
        parse_expect_table({"checks": ["no-tasks-at-al"]}, "s.toml")
    assert "s.toml: expect.checks[0]: unknown checker 'no-tasks-at-al'; known: " in str(info.value)
    assert "no-tasks-at-all" in str(info.value)
