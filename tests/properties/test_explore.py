"""``harness explore``: finds the buggy renewal's duplicate, shrinks it, writes a scenario that
replays the failure — and the fixed twin passes that very scenario."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.cli import main
from harness.explore import explore
from harness.explore_scenario import Scenario, ScenarioError, run

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).parents[1] / "fixture_apps" / "buggy_renewal"
SCENARIO = FIXTURE / "scenario.toml"
BUGGY = "tests.fixture_apps.buggy_renewal.buggy"
FIXED = "tests.fixture_apps.buggy_renewal.fixed"
LOST_RENEWAL = {"rules": [{"type": "lost_response", "operation": "domain.renew", "max_count": 1}]}


def test_the_base_scenario_passes_without_faults():
    result = run(Scenario.load(SCENARIO))
    assert result.ok, result.failures
    assert result.faults_fired == 0
    assert sum('"effect":"domain.renewed"' in line for line in result.ledger_lines) == 2


def test_a_lost_renewal_answer_makes_the_buggy_task_renew_twice_and_the_fixed_one_once():
    scenario = Scenario.load(SCENARIO).with_faults(LOST_RENEWAL)
    buggy = run(scenario)
    fixed = run(scenario.replacing({BUGGY: FIXED}))
    assert buggy.failures == [
        next(f for f in buggy.failures if "domain.renewed x2 for 'example.ro'" in f)
    ]
    assert fixed.ok and fixed.faults_fired == 1


def test_explore_shrinks_the_buggy_failure_to_at_most_three_fault_events():
    outcome = explore(Scenario.load(SCENARIO), budget=60, seed_value=0)
    assert outcome.found
    assert len(outcome.plan["rules"]) <= 3
    assert 1 <= outcome.result.faults_fired <= 3
    assert any(r["type"] == "lost_response" for r in outcome.plan["rules"])
    assert outcome.history[-1] <= min(outcome.history)  # the last failing run is the smallest


def test_explore_finds_nothing_in_the_fixed_twin():
    outcome = explore(Scenario.load(SCENARIO).replacing({BUGGY: FIXED}), budget=15, seed_value=0)
    assert not outcome.found and outcome.examples == 15


def test_cli_writes_a_minimal_scenario_that_replays_the_failure(tmp_path, capsys):
    out = tmp_path / "minimal.toml"
    code = main(["explore", str(SCENARIO), "--budget", "60", "--seed", "0", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 1
    assert f"harness replay {out}" in printed
    written = tomllib.loads(out.read_text())
    assert written["name"] == "buggy-renewal-minimal"
    assert 1 <= len(written["faults"]["rules"]) <= 3
    assert all(t["func"].startswith(BUGGY) for t in written["tasks"])

    assert main(["explore", str(out), "--replay"]) == 1
    assert "FAIL duplicate effect: registrar domain.renewed" in capsys.readouterr().out
    assert main(["explore", str(out), "--replay", "--replace", f"{BUGGY}={FIXED}"]) == 0
    assert "PASSED: buggy-renewal-minimal" in capsys.readouterr().out


def test_same_seed_same_minimal_scenario_bytes(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    for out in (a, b):
        main(["explore", str(SCENARIO), "--budget", "40", "--seed", "0", "--out", str(out)])
    assert a.read_bytes() == b.read_bytes()


def test_cli_fixed_twin_exits_zero(capsys):
    code = main(["explore", str(SCENARIO), "--budget", "10", "--replace", f"{BUGGY}={FIXED}"])
    assert code == 0
    assert "no failure in 10 fault plans" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("edit", "args", "message"),
    [
        ({"bogus": 1}, [], "unknown key 'bogus'"),
        ({"start": "2026-03-01T08:00:00"}, [], "has no UTC offset"),
        ({"run_for": "soon"}, [], "run_for: 'soon' is not a duration"),
        ({"faults": {"rules": [{"type": "flood"}]}}, [], "rules[0].type"),
        ({}, ["--replace", "nope"], "--replace: expected OLD=NEW"),
        ({}, ["--budget", "0"], "--budget: must be at least 1"),
        ({}, ["--replace", f"{BUGGY}=tests.nowhere"], "cannot import"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_with_nothing_written(
    tmp_path, capsys, edit, args, message
):
    import tomli_w

    data = {**tomllib.loads(SCENARIO.read_text()), **edit}
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(data))
    out = tmp_path / "out.toml"
    assert main(["explore", str(path), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_written_scenarios_load_back_equal(tmp_path):
    scenario = Scenario.load(SCENARIO).with_faults(LOST_RENEWAL, name="again")
    again = Scenario.load(scenario.write(tmp_path / "x.toml", "header\nlines"))
    assert again == scenario


def test_scenario_error_for_an_unknown_check():
    with pytest.raises(ScenarioError, match="unknown check 'speed'"):
        Scenario.from_dict(
            {"name": "x", "start": "2026-03-01T00:00:00+00:00", "checks": {"speed": 1}}
        )
