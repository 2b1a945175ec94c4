"""A configured secret in a real replay: passed through a load's arguments it reaches no output
(JSON, timeline, report, stdout), the secrets checker still fails and says where; a setup step
whose exception quotes it is one line on stderr with the marker instead."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.dbpath
HERE = Path(__file__).parent
PASSWORD = "vm-Secret-9f3k2"
SCENARIO = f"""
name = "carries-a-secret"
project_root = "{HERE.parents[1]}"
paths = ["{HERE.parents[1] / "reference"}"]
settings = "config.settings.test"
start = 2026-09-15T10:00:00
time_zone = "Europe/Bucharest"
duration = "10m"
setup = [{{ call = "scenarios.praho.seed" }}]

[[load]]
name = "provision"
call = "tests.fixture_apps.calls.provision"
args = ["{{n}}", "{PASSWORD}"]
every = "2m"

[fakes.virtualmin]
url = "http://vm1.praho.test:10000"
options = {{ username = "admin", password = "{PASSWORD}" }}
"""


def test_a_password_in_load_arguments_reaches_no_output(cli, tmp_path) -> None:
    scenario = tmp_path / "leaky.toml"
    scenario.write_text(SCENARIO)
    code, out, err = cli(
        "replay", str(scenario), "--no-progress", "--json", str(tmp_path / "r.json"),
        "--timeline", str(tmp_path / "t.jsonl"), "--report", str(tmp_path / "html"),
    )  # fmt: skip
    assert code == 1, out + err
    written = [p.read_text() for p in tmp_path.rglob("*") if p.is_file() and p != scenario]
    assert len(written) == 3
    for text in [*written, out, err]:
        assert PASSWORD not in text
    assert "«secret:fakes.virtualmin.password»" in (tmp_path / "t.jsonl").read_text()
    assert "secrets" in out and "fakes.virtualmin.password found in the timeline" in out


def test_a_setup_error_quoting_a_secret_is_one_redacted_line(cli, tmp_path) -> None:
    scenario = tmp_path / "setup.toml"
    scenario.write_text(
        SCENARIO.replace(
            'setup = [{ call = "scenarios.praho.seed" }]',
            'setup = [{ call = "tests.fixture_apps.calls.failing_setup", '
            f'args = ["{PASSWORD}"] }}]',
        )
    )
    out_json = tmp_path / "r.json"
    code, _, err = cli("replay", str(scenario), "--no-progress", "--json", str(out_json))
    assert code == 3  # the project's own code crashed outside a task
    assert err.count("\n") == 1 and "Traceback" not in err
    assert PASSWORD not in err and "«secret:fakes.virtualmin.password»" in err
    assert "setup[0] (tests.fixture_apps.calls.failing_setup())" in err
    assert not out_json.exists()
