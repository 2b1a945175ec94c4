"""Problems over every checker: a failing verdict carries its instances, a holding one none, and
the same bug has the same fingerprints whatever the seed.

Each checker's broken variant (``broken.py``) is replayed; every verdict of the run is judged,
not only the one the variant breaks, so the holding verdicts are checked on the same runs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pytest

from harness.checkers import CHECKERS, RunContext, audit
from harness.checkers.expectations import parse
from harness.checkers.problems import roots
from harness.record.run import RunRecord, ScenarioFacts, Snapshot
from harness.record.timeline import Timeline
from tests.checkers import broken

pytestmark = pytest.mark.dbpath

SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
TIME = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"


def documented_rules() -> dict[str, set[str]]:
    """Checker → the rule slugs docs/scenarios.md's "Rules and fingerprints" table lists."""
    text = DOCS.read_text(encoding="utf-8").split("### Rules and fingerprints", 1)[1]
    out: dict[str, set[str]] = {}
    checker = ""
    for line in text.split("\n## ", 1)[0].splitlines():
        cells = line.split(" | ")
        if not line.startswith("| ") or len(cells) < 3 or cells[0].startswith("| checker"):
            continue
        checker = cells[0].strip("| `") or checker
        out.setdefault(checker, set()).update(re.findall(r"`([a-z0-9-]+)`", cells[1]))
    return out


def test_every_checker_has_a_broken_variant_and_documented_rules():
    assert set(broken.BROKEN) == set(CHECKERS)
    assert set(documented_rules()) == set(CHECKERS)


def _judge_problems(verdict, task_ids: set[str], documented: dict[str, set[str]]) -> None:
    """A verdict's problems belong to it, and their fingerprints hold nothing of one run."""
    if verdict.ok:
        assert verdict.problems == [], verdict.name
        return
    assert verdict.problems, f"{verdict.name} fails with no problem: {verdict.message}"
    for p in verdict.problems:
        assert p.checker == verdict.name
        assert SLUG.fullmatch(p.rule), p.rule
        assert p.rule in documented.get(p.checker, set()), f"{p.checker} · {p.rule}: not in docs"
        assert p.subject and p.cause and p.message, p
        for part in (p.subject, p.cause):
            assert not TIME.search(part), f"{p.rule}: a time in {part!r}"
            assert not any(tid[:8] in part for tid in task_ids), f"{p.rule}: a task id in {part!r}"
        assert p.at is None or p.at.utcoffset() is not None


@pytest.mark.parametrize("name", sorted(CHECKERS))
def test_a_failing_verdict_has_problems_and_a_holding_one_none(run_scenario, name):
    result = run_scenario(broken.BROKEN[name]())
    assert not result.verdict(name).ok, f"the broken variant of {name} does not fail it"
    task_ids = {e.data["task"] for e in result.timeline.of("task.enqueued")}
    for verdict in result.verdicts:
        _judge_problems(verdict, task_ids, documented_rules())


def test_the_same_bugs_have_the_same_fingerprints_under_another_seed(run_scenario):
    """PRAHO's ``schedule=`` bug and a wrong path, replayed with seeds 1 and 2: other task ids
    (in the messages), the same fingerprints and root causes."""
    runs = [run_scenario(broken.bad_enqueues(), seed=seed) for seed in (1, 2)]
    problems = [[p for v in r.verdicts for p in v.problems] for r in runs]
    assert {p.message for p in problems[0]} != {p.message for p in problems[1]}  # seeded ids
    one, two = (Counter(p.fingerprint for p in ps) for ps in problems)
    assert one == two and len(one) == 4  # two checkers × two functions, as often
    causes = [[(r.checker, r.rule, r.cause, r.subjects) for r in roots(ps)] for ps in problems]
    assert causes[0] == causes[1]


@pytest.mark.parametrize("recorded", [None, "billing.Ledger"])
def test_an_audit_model_that_was_not_recorded_is_a_problem_too(recorded):
    """A configuration failure carries its problem like any other (about the model named)."""
    start = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
    rows = None if recorded is None else {"model": recorded, "time_field": "at", "rows": []}
    record = RunRecord(
        scenario=ScenarioFacts("t", "<test>", "UTC", start, dt.timedelta(hours=1), seed=0),
        seed=0, end=start + dt.timedelta(hours=1), timeline=Timeline(), clusters=[],
        default_cluster=None, snapshot=Snapshot(audit=rows),
    )  # fmt: skip
    verdict = audit.check(
        RunContext(record, parse({"audit": {"model": "common.AuditEvent"}}, "<test>"))
    )
    assert not verdict.ok and verdict.message.startswith("rows of common.AuditEvent were not")
    assert [(p.rule, p.subject) for p in verdict.problems] == [
        ("model-not-recorded", "common.AuditEvent")
    ]
