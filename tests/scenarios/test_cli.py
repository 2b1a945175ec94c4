"""``harness replay | gate | scenarios`` through the real entry point ``harness.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.dbpath
HERE = Path(__file__).parent


def test_replay_writes_json_timeline_and_report(cli, tmp_path):
    code, out, err = cli(
        "replay",
        str(HERE / "tiny.toml"),
        "--seed",
        "5",
        "--no-progress",
        "--json",
        str(tmp_path / "r.json"),
        "--report",
        str(tmp_path / "html"),
        "--timeline",
        str(tmp_path / "t.jsonl"),
    )
    assert code == 0, out + err
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["ok"] is True and data["seed"] == 5
    assert {v["name"] for v in data["verdicts"]} >= {"lost-jobs", "retry-discipline"}
    runs = data["stats"]["apps.provisioning.virtualmin_tasks.provision_virtualmin_account"]
    assert runs["ok"] == 10
    assert "all checks hold" in out and f"harness replay {HERE / 'tiny.toml'} --seed 5" in out
    report = tmp_path / "html" / "tiny-seed5.html"
    assert f"report: {report.resolve()}" in out
    assert (tmp_path / "t.jsonl").read_text().count("\n") == data["events"]


def test_replay_exits_1_when_a_check_fails(cli):
    code, out, _ = cli("replay", str(HERE / "leaky.toml"), "--no-progress")
    assert code == 1
    assert "secrets" in out and "FAIL" in out


def test_until_must_be_after_the_start(cli, tmp_path):
    code, _, err = cli("replay", str(HERE / "tiny.toml"), "--until", "2020-01-01T00:00:00")
    assert code == 2 and err.count("\n") == 1 and "--until" in err


def test_gate_passes_then_names_the_first_divergence(cli, tmp_path):
    text = (HERE / "tiny.toml").read_text()  # moved: its project paths become absolute
    text = text.replace('"../..', f'"{HERE.parent.parent}')
    (tmp_path / "tiny.toml").write_text(text)
    ref = str(tmp_path / "tiny.toml")
    assert cli("gate", ref)[0] == 1  # no golden yet
    code, out, _ = cli("gate", ref, "--update")
    assert code == 0 and "golden written" in out
    golden = tmp_path / "golden" / "tiny.jsonl"
    assert cli("gate", ref)[0] == 0
    # `--until gate` is the golden's horizon for replay as for sweep: the same bytes
    code, out, err = cli("replay", ref, "--until", "gate", "--timeline", str(tmp_path / "t.jsonl"))
    assert code == 0, out + err
    assert (tmp_path / "t.jsonl").read_text() == golden.read_text()
    lines = golden.read_text().splitlines()
    lines[7] = lines[7].replace('"kind":"', '"kind":"tampered.')
    golden.write_text("\n".join(lines) + "\n")
    code, out, _ = cli("gate", ref)
    assert code == 1
    assert "diverges at line 8" in out and "tampered." in out and lines[6][:40] in out


def test_scenarios_lists_the_shipped_ones(cli):
    code, out, _ = cli("scenarios")
    assert code == 0
    for name in ("month-in-production", "lost-response", "dst-transitions"):
        assert name in out


def test_scenarios_piped_never_cut_a_name(tmp_path):
    """``harness scenarios | cat`` on an 80-column terminal: every name whole, plain lines."""
    import os
    import subprocess
    import sys

    from harness.scenario import shipped

    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "scenarios"],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    names = [line.split("\t")[0] for line in proc.stdout.splitlines()]
    assert names == list(shipped())
    assert all(len(line.split("\t")) == 4 for line in proc.stdout.splitlines())
    listed = json.loads(
        subprocess.run(
            [sys.executable, "-m", "harness.cli", "scenarios", "--json"],
            capture_output=True, text=True, env=env, timeout=60, check=True,
        ).stdout
    )  # fmt: skip
    assert [row["name"] for row in listed] == names
    assert all(not row["description"].endswith("…") for row in listed)


def test_scenarios_table_on_a_narrow_terminal_keeps_names_and_words_whole():
    from rich.console import Console

    from harness.cli.scenarios import table
    from harness.scenario import read, shipped

    console = Console(width=80, force_terminal=True, record=True)
    rows = [
        {"name": n, "duration": "1h", "seed": 1, "description": read(n).description}
        for n in shipped()
    ]
    console.print(table(rows))
    text = console.export_text()
    for name in shipped():
        assert name in text  # on one line, never cut
    words = {w for row in rows for w in " ".join(row["description"].split()).split()}
    printed = set(text.replace("│", " ").split())
    assert words <= printed  # every word whole
