"""``git bisect run harness replay … --bisect-exit`` finds the commit that introduced a problem.

A three-commit history of acme is made in a tmp dir: a good commit; one that makes the nightly
renewals start "now" instead of at 04:00 New York time (PRAHO's DAILY-rows-run-at-setup-time bug,
in one line); an unrelated one. The baseline is the good commit's run (known problems pass);
``git bisect run`` replays each candidate and must name the second commit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.acme.conftest import ACME, HARNESS, acme_env

pytestmark = pytest.mark.dbpath

GOOD = "next_local_time(NIGHTLY_RENEWALS_AT),"
BAD = "timezone.now(),  # first run right away"


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "acme",
        "GIT_AUTHOR_EMAIL": "dev@acme.test",
        "GIT_COMMITTER_NAME": "acme",
        "GIT_COMMITTER_EMAIL": "dev@acme.test",
    }
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def _history(repo: Path) -> list[str]:
    shutil.copytree(ACME, repo, ignore=shutil.ignore_patterns("reports", "__pycache__"))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "acme as it is")
    schedules = repo / "apps" / "billing" / "schedules.py"
    text = schedules.read_text()
    assert text.count(GOOD) == 1
    schedules.write_text(text.replace(GOOD, BAD))
    _git(repo, "commit", "-qam", "renewals: start the schedule at once")
    readme = repo / "README.md"
    readme.write_text(readme.read_text() + "\nSupport: support@acme.test\n")
    _git(repo, "commit", "-qam", "README: support address")
    return _git(repo, "rev-list", "--reverse", "HEAD").split()


def test_git_bisect_run_names_the_commit_that_broke_the_renewals(tmp_path) -> None:
    repo = tmp_path / "acme"
    good, bad, last = _history(repo)
    env = acme_env()
    replay = [str(HARNESS), "replay", "dst-week", "--until", "2d", "--database", "harness"]
    _git(repo, "checkout", "-q", good)
    first = subprocess.run(
        [*replay, "--no-progress", "--json", str(tmp_path / "good.json")],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert first.returncode in (0, 1), first.stderr
    baseline = tmp_path / "baseline.toml"
    subprocess.run(
        [str(HARNESS), "baseline", str(tmp_path / "good.json"), "--out", str(baseline)],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
    )
    _git(repo, "checkout", "-q", last)
    _git(repo, "bisect", "start", last, good)
    run = subprocess.run(
        [
            "git",
            "bisect",
            "run",
            *replay,
            "--no-progress",
            "--baseline",
            str(baseline),
            "--bisect-exit",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"{bad} is the first bad commit" in run.stdout
    assert "renewals: start the schedule at once" in run.stdout
    _git(repo, "bisect", "reset")
