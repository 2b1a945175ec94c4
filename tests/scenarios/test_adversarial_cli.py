"""Adversarial command lines: each row is a command as a user types it and what must come of
it — the exit code, one line on stderr (never a traceback) and nothing written for bad input; for
the commands that write, every file asked for. A new case is a row, not code.

``RUN`` stands for a saved run (``harness replay tiny.toml --json``), made once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main

pytestmark = pytest.mark.dbpath
HERE = Path(__file__).parent
TINY = str(HERE / "tiny.toml")


@pytest.fixture(scope="module")
def saved(tmp_path_factory, django_db_blocker) -> Path:
    folder = tmp_path_factory.mktemp("saved")
    with django_db_blocker.unblock():
        assert main(["replay", TINY, "--no-progress", "--json", str(folder / "run.json")]) == 0
    (folder / "bad.toml").write_text("this is = not [toml")
    (folder / "expect.toml").write_text('[expect]\nchecks = ["lost-jobs"]\n')
    (folder / "empty-baseline.toml").write_text("# nothing known\n")
    return folder


def _argv(row: list[str], saved: Path, out: Path) -> list[str]:
    return [
        a.replace("RUN", str(saved / "run.json"))
        .replace("SAVED", str(saved))
        .replace("OUT", str(out))
        for a in row
    ]


BAD = [
    (
        "until-over-a-century",
        ["replay", TINY, "--until", "99999999d"],
        "--until: '99999999d' is longer than 100 years",
    ),
    (
        "until-in-year-one",
        ["replay", TINY, "--until", "0001-01-01T00:00:00"],
        "--until: 0001-01-01T00:00:00 is outside 1971–9899",
    ),
    (
        "until-not-a-time",
        ["replay", TINY, "--until", "soon"],
        "is neither an ISO time nor an offset",
    ),
    (
        "max-arrivals-zero",
        ["replay", TINY, "--max-arrivals", "0"],
        "--max-arrivals 0: expected a whole number",
    ),
    ("baseline-missing", ["replay", TINY, "--baseline", "SAVED/none.toml"], "cannot read it"),
    ("baseline-not-toml", ["replay", TINY, "--baseline", "SAVED/bad.toml"], "not TOML"),
    ("judge-missing-run", ["judge", "SAVED/none.json"], "cannot read a run"),
    (
        "judge-bad-expect",
        ["judge", "RUN", "--expect", "SAVED/bad.toml"],
        "cannot read expectations",
    ),
    ("baseline-of-nothing", ["baseline", "SAVED/none.json"], "cannot read a run"),
    ("baseline-out-in-a-file", ["baseline", "RUN", "--out", "RUN/x.toml"], "is not a directory"),
    ("diff-missing-second", ["diff", "RUN", "SAVED/none.json"], "cannot read a run"),
    ("gate-baseline-missing", ["gate", TINY, "--baseline", "SAVED/none.toml"], "cannot read it"),
    ("sweep-seeds-backwards", ["sweep", TINY, "--seeds", "5..1"], "5..1"),
    (
        "durations-from-nothing",
        ["durations", "--from", "SAVED/none.json", "--out", "OUT/d.toml"],
        "none.json",
    ),
]


@pytest.mark.parametrize(("case", "row", "said"), BAD, ids=[r[0] for r in BAD])
def test_bad_input(case, row, said, saved, tmp_path, capsys, django_db_blocker) -> None:
    out = tmp_path / "out"
    with django_db_blocker.unblock():
        code = main(_argv(row, saved, out))
    captured = capsys.readouterr()
    assert code == 2, captured.out + captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert said in lines[0], lines[0]
    assert not out.exists()


WRITES = [
    ("judge-report", ["judge", "RUN", "--report", "OUT/html"], ["html/tiny-seed5.html"]),
    (
        "judge-json-report",
        ["judge", "RUN", "--json", "OUT/j.json", "--report", "OUT/html"],
        ["j.json", "html/tiny-seed5.html"],
    ),
    (
        "judge-expect-baseline-report",
        [
            "judge",
            "RUN",
            "--expect",
            "SAVED/expect.toml",
            "--baseline",
            "SAVED/empty-baseline.toml",
            "--json",
            "OUT/j.json",
            "--report",
            "OUT/html",
        ],
        ["j.json", "html/tiny-seed5.html"],
    ),
    ("baseline-out", ["baseline", "RUN", "--out", "OUT/b.toml"], ["b.toml"]),
    ("diff-json", ["diff", "RUN", "RUN", "--json", "OUT/d.json"], ["d.json"]),
    (
        "replay-all-outputs",
        [
            "replay",
            TINY,
            "--no-progress",
            "--json",
            "OUT/r.json",
            "--timeline",
            "OUT/t.jsonl",
            "--report",
            "OUT/html",
            "--baseline",
            "SAVED/empty-baseline.toml",
        ],
        ["r.json", "t.jsonl", "html/tiny-seed5.html"],
    ),
]


@pytest.mark.parametrize(("case", "row", "files"), WRITES, ids=[r[0] for r in WRITES])
def test_writes_what_was_asked(case, row, files, saved, tmp_path, capsys, django_db_blocker):
    out = tmp_path / "out"
    with django_db_blocker.unblock():
        code = main(_argv(row, saved, out))
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(files)
    for name in files:
        if name.endswith(".json"):
            json.loads((out / name).read_text())  # whole, readable
