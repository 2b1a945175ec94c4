"""``harness explore``: finds the buggy renewal's duplicate, shrinks it, writes a scenario that
replays the failure through the scenario runner — and the fixed twin passes that very file.

The scenario runner replays on a fresh database of its own (``harness.infra.freshdb``), so these
tests do not use pytest-django's test transaction; they only unblock database access.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.cli import main
from harness.run.runner import run
from harness.scenario import read
from harness.search.explore import (
    FaultSpace,
    explore,
    minimal_scenario_text,
    rollback_runner,
    with_faults,
)

pytestmark = pytest.mark.dbpath

SCENARIO = Path(__file__).parents[1] / "fixture_apps" / "buggy_renewal" / "scenario.toml"
LOST_RENEWAL = {
    "rules": [
        {"type": "lost_response", "fake": "registrar", "operation": "domain.renew", "max_count": 1}
    ]
}


@pytest.fixture(autouse=True)
def database(django_db_blocker):
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def fixed(monkeypatch):
    monkeypatch.setenv("RENEWAL_VARIANT", "fixed")


def test_a_lost_renewal_answer_duplicates_the_buggy_renewal_only():
    scenario = read(SCENARIO)
    assert run(scenario).ok
    buggy = run(with_faults(scenario, LOST_RENEWAL))
    assert [v.name for v in buggy.failed] == ["duplicate-effects"]
    assert "domain.renewed for 'example.ro' happened 2×" in buggy.explain()


def test_the_fixed_twin_reconciles_after_a_lost_answer(fixed):
    result = run(with_faults(read(SCENARIO), LOST_RENEWAL))
    assert result.ok, result.explain()
    assert [e.fault for e in result.ledger.entries() if e.fault] == ["lost_response"]


def test_explore_shrinks_the_buggy_failure_to_at_most_three_fault_events():
    scenario = read(SCENARIO)
    with rollback_runner(scenario) as runner:
        outcome = explore(scenario, budget=60, search_seed=0, runner=runner)
    assert outcome.found
    assert len(outcome.plan["rules"]) <= 3
    assert 1 <= outcome.faults_fired <= 3
    assert any(r["type"] == "lost_response" for r in outcome.plan["rules"])
    assert outcome.history[-1] == min(outcome.history)  # the last failing run is the smallest


def test_explore_finds_nothing_in_the_fixed_twin(fixed):
    scenario = read(SCENARIO)
    with rollback_runner(scenario) as runner:
        outcome = explore(scenario, budget=15, search_seed=0, runner=runner)
    assert not outcome.found and outcome.examples == 15


def test_the_rollback_runner_judges_like_the_fresh_database_runner():
    scenario = with_faults(read(SCENARIO), LOST_RENEWAL)
    with rollback_runner(scenario) as runner:
        quick = [runner(scenario) for _ in range(2)]
    fresh = run(scenario)
    assert [r.explain() for r in quick] == [fresh.explain()] * 2
    assert [list(r.timeline.lines()) for r in quick] == [list(fresh.timeline.lines())] * 2


def test_cli_writes_a_minimal_scenario_that_harness_replay_reproduces(
    tmp_path, capsys, monkeypatch
):
    out = tmp_path / "minimal.toml"
    code = main(["explore", str(SCENARIO), "--budget", "60", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 1, printed
    assert f"replay: harness replay {out}" in printed
    written = tomllib.loads(out.read_text())
    assert written["name"] == "buggy-renewal-minimal"
    assert 1 <= len(written["fakes"]["registrar"]["faults"]) <= 3

    assert main(["replay", str(out), "--no-progress"]) == 1
    assert "duplicate-effects" in capsys.readouterr().out
    monkeypatch.setenv("RENEWAL_VARIANT", "fixed")
    assert main(["replay", str(out), "--no-progress"]) == 0


def test_same_seed_same_minimal_scenario_bytes(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    for out in (a, b):
        main(["explore", str(SCENARIO), "--budget", "60", "--search-seed", "0", "--out", str(out)])
    assert a.read_bytes() == b.read_bytes()


def test_cli_exits_zero_when_nothing_fails(fixed, capsys):
    assert main(["explore", str(SCENARIO), "--budget", "3"]) == 0
    assert "no failure in 3 fault plans" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "0"], "--budget: must be at least 1"),
        (["--operation", "payment_intent.create"], "--operation: 'payment_intent.create' is no"),
        (["--max-rules", "0"], "--max-rules: must be at least 1"),
    ],
)
def test_bad_options_are_one_line_and_exit_2_with_nothing_written(tmp_path, capsys, args, message):
    out = tmp_path / "out.toml"
    assert main(["explore", str(SCENARIO), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_a_bad_scenario_is_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(SCENARIO.read_text().replace('duration = "3h"', 'duration = "soon"'))
    assert main(["explore", str(bad), "--out", str(tmp_path / "o.toml")]) == 2
    assert "duration" in capsys.readouterr().err
    assert not (tmp_path / "o.toml").exists()


def test_fault_space_follows_the_mounted_fakes():
    space = FaultSpace.of(read(SCENARIO), ["domain.renew"])
    assert space.fakes == ("registrar",)
    assert space.operations == {"registrar": ("domain.renew",)}


def test_minimal_text_adds_the_rules_to_the_fake_tables():
    text = minimal_scenario_text(SCENARIO, LOST_RENEWAL, "x", "line one\n\nline three")
    assert text.startswith("# line one\n#\n# line three\n")
    data = tomllib.loads(text)
    assert data["fakes"]["registrar"]["faults"] == [
        {"type": "lost_response", "operation": "domain.renew", "max_count": 1}
    ]
