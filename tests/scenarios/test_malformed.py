"""Malformed scenario files: one clear line, exit code 2, nothing written (acceptance 3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

MALFORMED = sorted((Path(__file__).parent / "malformed").glob("*.toml"))


def test_there_are_at_least_twenty():
    assert len(MALFORMED) >= 20


@pytest.mark.parametrize("path", MALFORMED, ids=[p.stem for p in MALFORMED])
def test_malformed_file_is_one_line_and_exit_2(path, tmp_path, capsys, django_db_blocker):
    out = tmp_path / "out"
    with django_db_blocker.unblock():
        code = main(
            [
                "replay",
                str(path),
                "--json",
                str(out / "r.json"),
                "--report",
                str(out / "html"),
                "--no-progress",
            ]
        )
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"harness: error: {path}"), lines[0]
    assert captured.out == ""
    assert not out.exists()


def test_malformed_file_through_a_real_process(tmp_path):
    path = MALFORMED[0]
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "replay", str(path), "--json", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "unknown key" in proc.stderr and "colour" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_unknown_scenario_name_lists_the_shipped_ones(capsys):
    assert main(["replay", "no-such-scenario"]) == 2
    err = capsys.readouterr().err
    assert "month-in-production" in err and err.count("\n") == 1
