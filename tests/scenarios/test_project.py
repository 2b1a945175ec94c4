"""The CLI finds another team's project the way manage.py does (issue: the PRAHO name clash).

Each test is a real ``harness`` process (the venv's console script, whose ``sys.path`` holds only
its own bin/) started in a project directory of its own: the current directory is the project
root, a top-level settings module is accepted, and what cannot work is one line with exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.dbpath

REPO = Path(__file__).resolve().parents[2]
HARNESS = Path(sys.executable).parent / "harness"

SCENARIO = """
description = "One noop task, in a project of its own"
settings = "mysettings"
start = 2026-03-01T08:00:00Z
duration = "5m"

[[load]]
call = "mytasks.enqueue"
args = ["{n}"]
at = ["1m"]

[expect]
checks = ["lost-jobs"]
"""
SANE = "SECRET_KEY = 'x'\nINSTALLED_APPS = ['django_q']\nQ_CLUSTER = {'timeout': 30, 'retry': 60}\n"
TASKS = """
from django_q.tasks import async_task

def noop(n):
    return n

def enqueue(n):
    return async_task("mytasks.noop", n)
"""


def _harness(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env["PYTHONPATH"] = str(REPO / "reference")  # the platform's settings, imported by mysettings
    env.pop("HARNESS_SCENARIOS", None)
    return subprocess.run(
        [str(HARNESS), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "one.toml").write_text(SCENARIO)
    (tmp_path / "mytasks.py").write_text(TASKS)
    (tmp_path / "mysettings.py").write_text("from config.settings.test import *  # noqa\n")
    return tmp_path


def test_the_current_directory_is_the_project_root(project: Path) -> None:
    proc = _harness(project, "replay", "one", "--no-progress", "--json", "out.json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((project / "out.json").read_text())
    assert result["ok"] and result["source"] == "scenarios/one.toml"
    assert result["command"] == "harness replay one --seed 0 --settings mysettings"
    assert "reproduce: harness replay one --seed 0 --settings mysettings" in proc.stdout


def test_settings_that_do_not_import_are_one_line(project: Path) -> None:
    proc = _harness(project, "replay", "one", "--settings", "nosuch.settings", "--json", "x.json")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "cannot import nosuch.settings" in proc.stderr
    assert not (project / "x.json").exists()


def test_a_project_on_sqlite_is_told_how_to_run(project: Path) -> None:
    (project / "lite.py").write_text(
        f"{SANE}USE_TZ = True\n"
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': 'db.sqlite3'}}\n"
    )
    proc = _harness(project, "replay", "one", "--settings", "lite")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "sqlite3" in proc.stderr and "--database harness" in proc.stderr


def test_settings_without_a_database_are_one_line(project: Path) -> None:
    """The second small project of the issue got ImproperlyConfigured with a traceback."""
    (project / "nodb.py").write_text(SANE)
    proc = _harness(project, "replay", "one", "--settings", "nodb")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "needs PostgreSQL" in proc.stderr


def test_no_settings_anywhere_is_one_line(project: Path) -> None:
    text = (project / "scenarios" / "one.toml").read_text().replace('settings = "mysettings"\n', "")
    (project / "scenarios" / "one.toml").write_text(text)
    proc = _harness(project, "replay", "one")
    assert proc.returncode == 2, proc.stderr
    assert "no Django settings" in proc.stderr and "DJANGO_SETTINGS_MODULE" in proc.stderr
