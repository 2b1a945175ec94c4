"""Every shipped scenario holds every check, replays its golden timeline byte for byte, is
judged the same from its saved JSON, and replays identically with ``--faithful``.

Each replays up to its ``gate_until`` (the golden's horizon) on a fresh database, once with the
accelerations (the default) and once without (django-q2's own code everywhere): the timeline
bytes and the end-of-run rows of every django-q2 table must be equal (docs/driver.md,
"Accelerations, proven equal"). The full durations run from ``harness replay`` and ``make demo``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main as cli_main
from harness.record.timeline import first_divergence
from harness.scenario import golden_path, locate, read, shipped

pytestmark = pytest.mark.dbpath
NAMES = list(shipped())
REPO = Path(__file__).resolve().parents[2]
HARNESS = Path(sys.executable).parent / "harness"


def _bare(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The venv's ``harness`` with no help from the test set-up: no PYTHONPATH, no settings
    module, no HARNESS_SCENARIOS."""
    drop = ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "HARNESS_SCENARIOS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run(
        [str(HARNESS), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_repository_root_lists_the_shipped_scenarios():
    proc = _bare(REPO, "scenarios")
    assert proc.returncode == 0, proc.stderr
    assert [line.split("\t")[0] for line in proc.stdout.splitlines()] == NAMES


def test_a_shipped_scenario_finds_the_platform_and_its_glue_from_any_directory(tmp_path):
    """``project_root = "../reference"`` (apps, config) is relative to the scenario file, not to
    where the command runs; ``paths = [".."]`` puts the repository root, where the glue
    ``scenarios.praho`` lives, on ``sys.path`` (this venv's editable install has it there
    anyway; an installed wheel would not)."""
    for name in NAMES:
        scenario = read(name)
        assert scenario.project_root == REPO / "reference", name
        if "scenarios.praho" in locate(name).read_text(encoding="utf-8"):
            assert scenario.paths == [REPO], name
    out = tmp_path / "run.json"
    ref = str(REPO / "scenarios" / "lost-response.toml")
    proc = _bare(tmp_path, "replay", ref, "--until", "2h", "--no-progress", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(out.read_text())["ok"]


def _django_q_rows() -> dict[str, list[tuple]]:
    """Every row of every django-q2 table, in id order (raw values: pickles as stored)."""
    from django.apps import apps
    from django.db import connection

    out = {}
    for model in apps.get_app_config("django_q").get_models():
        if model._meta.proxy:
            continue
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cur:
            cur.execute(f"SELECT * FROM {table} ORDER BY 1")
            out[model._meta.db_table] = [tuple(row) for row in cur.fetchall()]
    return out


def replay_with_rows(name: str, faithful: bool) -> tuple[Any, dict[str, list[tuple]]]:
    """The scenario to its gate horizon on a fresh database, and the django-q2 rows it left."""
    from harness.infra.freshdb import fresh_database
    from harness.run import runner

    scenario = read(name)
    until = scenario.start + scenario.gate_until if scenario.gate_until else None
    runner.ensure_django(None, scenario)
    with fresh_database():
        result = runner.replay_here(scenario, until=until, faithful=faithful)
        rows = _django_q_rows()
    return result, rows


@pytest.mark.parametrize("name", NAMES)
def test_shipped_scenario_holds_matches_its_golden_judges_the_same_and_faithful_is_identical(
    name, django_db_blocker, tmp_path
):
    with django_db_blocker.unblock():
        result, rows = replay_with_rows(name, faithful=False)
        faithful, faithful_rows = replay_with_rows(name, faithful=True)
    assert result.ok, result.explain()
    expected = golden_path(locate(name)).read_text(encoding="utf-8").splitlines()
    div = first_divergence(expected, result.timeline.dumps().splitlines())
    assert div is None, f"line {div.line}:\n- {div.expected}\n+ {div.actual}"
    # The saved run, re-judged with no database, gives the same verdicts (checkers are pure).
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(result.to_dict()), encoding="utf-8")
    assert cli_main(["judge", str(saved), "--json", str(tmp_path / "judged.json")]) == 0
    judged = json.loads((tmp_path / "judged.json").read_text())
    assert judged["verdicts"] == [v.to_dict() for v in result.verdicts]
    assert judged["stats"] == result.stats
    # Accelerations are proven equal: the same bytes, the same rows in every django-q2 table.
    assert faithful.timeline.dumps() == result.timeline.dumps()
    assert faithful_rows.keys() == rows.keys()
    for table in rows:
        assert faithful_rows[table] == rows[table], table
    assert rows["django_q_task"], "the comparison must cover saved results"


def test_spring_forward_exposes_a_0330_daily_drift_and_the_platform_holds(run_scenario):
    """03:30 does not exist on 29 March 2026 in Bucharest: the fixture's first run is 04:30 EEST
    and Django-Q2's DAILY arithmetic then keeps 04:30 for good. The platform's own daily
    schedules (its cleanup moved from 03:30 to 04:30 because of this) keep their times."""
    result = run_scenario(str(Path(__file__).parent / "dst-spring-forward.toml"))
    failed = {v.name for v in result.failed}
    assert failed == {"schedule-adherence"}
    v = result.verdict("schedule-adherence")
    assert "fixture-daily-0330" in v.message
    # one cause, one problem: from the day after the change it runs at 04:30, not 03:30
    assert [(p.rule, p.subject) for p in v.problems] == [("shifted", "fixture-daily-0330")]
    assert v.problems[0].cause == "runs at 04:30 local time instead of 03:30 (1:00:00 late)"
    assert "slot 2026-03-30 03:30:00 EEST never fired" in v.problems[0].message
    platform = (
        "billing-daily-invoices",
        "customers-inactive-cleanup",
        "common-cleanup-old-tasks",
        "domains-expiration-check",
    )
    assert not any(name in e for e in v.evidence for name in platform), v.evidence
