"""acme's own business rule, checked from its tables: "each subscription is billed at most once
per period" (examples/acme/scenarios/invariants.py, declared by billing-month.toml).

The bug a team could write in one line: a monthly plan renewed 30 days after its period instead
of one calendar month later (``renews_on = period + 30 days``). Every guard acme has still holds
— one Charge per (subscription, period), the "already charged" check, Stripe's idempotency key
``sub-N-PERIOD`` — because the second charge is for another ``period``: 1 March and 31 March, two
charges in one billing month. Only the project's own table says so: the payments fake's
duplicate-effects keys a charge by its idempotency key and sees two different ones.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.acme.conftest import ACME, acme_env

pytestmark = pytest.mark.dbpath

FIXED = "subscription.renews_on = services.add_month(charge.period)"
BUG = "subscription.renews_on = charge.period + datetime.timedelta(days=30)"
INVARIANT = "billed-once-per-period"
NO_DATABASE = "postgresql://nobody@127.0.0.1:9/no-database-here"


@pytest.fixture
def acme_copy(tmp_path: Path):
    """A copy of acme to change; its templates are dropped afterwards (each copy is a project
    of its own to the template cache)."""
    copy = tmp_path / "acme"
    shutil.copytree(ACME, copy, ignore=shutil.ignore_patterns("__pycache__"))
    yield copy
    _drop_templates(copy)


def _with_the_bug(copy: Path) -> Path:
    """The one-line bug applied (the "before" of its fix)."""
    tasks = copy / "apps" / "billing" / "tasks.py"
    source = tasks.read_text(encoding="utf-8")
    assert source.count(FIXED) == 1
    tasks.write_text(source.replace(FIXED, BUG), encoding="utf-8")
    return copy


def _drop_templates(root: Path) -> None:
    import psycopg

    from harness.infra.database import psycopg_kwargs, resolve
    from harness.infra.templates import Project, prune_templates

    prefix = Project(str(root.resolve()), "config.settings").prefix
    with psycopg.connect(**psycopg_kwargs(resolve().settings, "postgres"), autocommit=True) as c:
        prune_templates(c, prefix, keep=0)


def test_billed_once_per_period_fails_on_a_30_day_renewal_and_holds_on_acme(acme, acme_copy):
    buggy = _with_the_bug(acme_copy)
    bad = acme("replay", "billing-month", "--database", "harness", cwd=buggy)
    assert bad.code == 1, bad.out + bad.err
    assert [v["name"] for v in bad.result["verdicts"] if not v["ok"]] == [INVARIANT]
    verdict = bad.verdict(INVARIANT)
    problems = verdict["problems"]
    assert len(problems) == 5  # the five subscriptions whose card was charged (one declines)
    assert {(p["rule"], p["cause"]) for p in problems} == {
        ("billed-twice", "charged more than once in one billing period")
    }
    subjects = sorted(p["subject"] for p in problems)
    assert len(set(subjects)) == 5 and all(s.startswith("subscription ") for s in subjects)
    first = problems[0]
    assert first["message"].startswith(f"{first['subject']} charged 2 times for 2026-03 (periods "
                                       "2026-03-01, 2026-03-31; charges ")  # fmt: skip
    assert first["at"].startswith("2026-03-31T08:00")  # 04:00 New York, the second renewal
    assert "billed-once-per-period · billed-twice: charged more than once" in bad.out
    assert bad.verdict("duplicate-effects")["ok"]  # two idempotency keys: the fake sees no twin
    collected = bad.result["record"]["snapshot"]["collected"][INVARIANT]["charges"]
    assert len(collected) == 1 and len(collected[0]["rows"]) == 10

    # judged again from the JSON alone: no database (an address nobody answers at), same verdict
    judged = acme("judge", str(bad.folder / "run.json"), "--json", str(bad.folder / "again.json"),
                  cwd=buggy, env=acme_env(DATABASE_URL=NO_DATABASE))  # fmt: skip
    assert judged.code == 1, judged.out + judged.err
    again = json.loads((bad.folder / "again.json").read_text())
    assert next(v for v in again["verdicts"] if v["name"] == INVARIANT) == verdict

    good = acme("replay", "billing-month", "--database", "harness")
    assert good.code == 0, good.out + good.err
    held = good.verdict(INVARIANT)
    assert held["ok"] and held["problems"] == []
    assert held["message"].startswith("Each subscription is charged at most once per billing ")
    assert good.verdict("renewals-not-missed")["ok"]


def test_a_mistake_in_an_invariant_is_one_line_and_nothing_is_written(acme, acme_copy):
    scenarios = acme_copy / "scenarios"
    text = (scenarios / "billing-month.toml").read_text(encoding="utf-8")
    typo = text.replace("invariants:renewals_not_missed", "invariants:renewals_not_mised")
    (scenarios / "wrong-name.toml").write_text(typo, encoding="utf-8")
    run = acme("replay", "wrong-name", "--database", "harness", cwd=acme_copy)
    assert run.code == 2
    assert run.err.strip().splitlines() == [
        "harness: error: scenarios/wrong-name.toml: expect.custom[1].call: module "
        "'scenarios.invariants' has no 'renewals_not_mised'"
    ]
    assert not (run.folder / "run.json").exists()
