"""``harness diff before.json after.json``: did my fix work?

acme with a one-line bug (the nightly renewals start when ``migrate`` runs instead of at 04:00
New York time: PRAHO's DAILY-rows-anchored-at-setup bug) is replayed from a copy's root, then
acme as it is (the fix): the diff shows exactly one fixed fingerprint — the shift — and nothing
new, and exits 0; the other way round it is one new problem and exit 1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.acme.conftest import ACME, HARNESS, acme_env

pytestmark = pytest.mark.dbpath

GOOD = "next_local_time(NIGHTLY_RENEWALS_AT),"
BAD = "timezone.now(),  # first run right away"


def _replay(root: Path, out: Path) -> None:
    proc = subprocess.run(
        [str(HARNESS), "replay", "dst-week", "--until", "3d", "--database", "harness",
         "--no-progress", "--json", str(out)],
        cwd=root, env=acme_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr


def _diff(a: Path, b: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HARNESS), "diff", str(a), str(b), "--json", str(out)],
        cwd=ACME, env=acme_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_fix_shows_as_exactly_one_fixed_fingerprint(tmp_path) -> None:
    buggy = tmp_path / "acme"
    shutil.copytree(ACME, buggy, ignore=shutil.ignore_patterns("reports", "__pycache__"))
    schedules = buggy / "apps" / "billing" / "schedules.py"
    schedules.write_text(schedules.read_text().replace(GOOD, BAD))
    _replay(buggy, tmp_path / "before.json")
    _replay(ACME, tmp_path / "after.json")

    fixed = _diff(tmp_path / "before.json", tmp_path / "after.json", tmp_path / "fixed.json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    d = json.loads((tmp_path / "fixed.json").read_text())
    assert (len(d["new"]), len(d["fixed"])) == (0, 1), fixed.stdout
    (problems,) = d["fixed"].values()
    assert {(p["checker"], p["rule"], p["subject"]) for p in problems} == {
        ("schedule-adherence", "shifted", "nightly-renewals")
    }
    assert "1 fixed" in fixed.stdout and "runs at 00:00 local time instead of 04:00" in fixed.stdout

    worse = _diff(tmp_path / "after.json", tmp_path / "before.json", tmp_path / "worse.json")
    assert worse.returncode == 1
    assert len(json.loads((tmp_path / "worse.json").read_text())["new"]) == 1
