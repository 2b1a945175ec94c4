"""Adversarial scenario files: every row is a scenario as a demanding (or careless) user writes
it and what must come of it — the exit code, the one line on stderr, and nothing written. A new
case is a row, not code.

The base is a small valid scenario on the reference platform; each row changes it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from harness.cli import main

pytestmark = pytest.mark.dbpath
REPO = Path(__file__).resolve().parents[2]
BASE: dict[str, Any] = {
    "name": "adversarial",
    "project_root": str(REPO),
    "paths": [str(REPO / "reference")],
    "settings": "config.settings.test",
    "start": "2026-09-15T10:00:00",
    "time_zone": "Europe/Bucharest",
    "duration": "10m",
    "load": [
        {"name": "orders", "call": "tests.fixture_apps.calls.flaky_order", "args": ["{n}", []],
         "every": "5m"},
    ],
}  # fmt: skip


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for key in parents:
            target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
        target[last] = value

    return change


def _at(value: Any) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        doc["load"][0].pop("every")
        doc["load"][0]["at"] = [value]

    return change


def _per_day(value: int) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        doc["load"][0].pop("every")
        doc["load"][0]["per_day"] = value

    return change


CENTURY = "is longer than 100 years"
OUTSIDE = "is outside 1971–9899"
YEAR_ONE = [{"start": "0001-01-01T00:00:00+00:00", "end": "1h"}]
EXITS = [{"call": "tests.fixture_apps.calls.exits_in_setup"}]
CRASHES = [{"call": "tests.fixture_apps.calls.crashes_in_setup"}]
ROWS: list[tuple[str, Callable[[dict], None], int, str]] = [
    # datetime limits: one line each, no OverflowError traceback
    (
        "duration-overflows",
        _set("duration", "999999999999d"),
        2,
        f"duration: '999999999999d' {CENTURY}",
    ),
    ("duration-over-a-century", _set("duration", "99999999d"), 2, CENTURY),
    ("duration-a-huge-number", _set("duration", 1e308), 2, CENTURY),
    (
        "start-at-the-end-of-time",
        _set("start", "9999-12-31T00:00:00"),
        2,
        f"start: 9999-12-31T00:00:00 {OUTSIDE}",
    ),
    ("start-in-year-one", _set("start", "0001-01-01T00:00:00"), 2, OUTSIDE),
    (
        "load-begins-past-time",
        _set("load.0.start", "99999999d"),
        2,
        f"load[0].start: '99999999d' {CENTURY}",
    ),
    ("load-at-past-time", _at("99999999d"), 2, f"load[0].at[0]: '99999999d' {CENTURY}"),
    ("downtime-in-year-one", _set("cluster.downtime", YEAR_ONE), 2, OUTSIDE),
    # resources: a ceiling with its key, not 5.8 GB and a MemoryError
    (
        "count-ten-million",
        _set("load.0.count", 10_000_000),
        2,
        "load[0]: orders would make about 20,000,000",
    ),
    ("per-day-huge", _per_day(10**9), 2, "over the ceiling of 1,000,000"),
    # clusters named like another
    (
        "named-cluster-is-the-projects",
        _set("clusters", [{"name": "praho-cluster"}]),
        2,
        "clusters[0].name: 'praho-cluster' is already the name of [cluster]",
    ),
    # a fake's option of the wrong kind: refused before anything runs
    (
        "virtualmin-max-domains-negative",
        _set("fakes.virtualmin", {"url": "http://vm1.test:10000", "options": {"max_domains": -1}}),
        2,
        "fakes.virtualmin.options: max_domains must be a whole number, 0 or more, got -1",
    ),
    # the project's own code outside a task: exit 3, one line
    (
        "setup-calls-sys-exit",
        _set("setup", EXITS),
        3,
        "setup[0] (tests.fixture_apps.calls.exits_in_setup()) failed: SystemExit(1)",
    ),
    (
        "setup-raises",
        _set("setup", CRASHES),
        3,
        "failed: RuntimeError: the seed data refers to a plan",
    ),
]


@pytest.mark.parametrize(("case", "change", "code", "said"), ROWS, ids=[r[0] for r in ROWS])
def test_row(case, change, code, said, tmp_path, capsys, django_db_blocker) -> None:
    doc = copy.deepcopy(BASE)
    change(doc)
    scenario = tmp_path / f"{case}.toml"
    scenario.write_text(tomli_w.dumps(doc))
    out = tmp_path / "out"
    with django_db_blocker.unblock():
        got = main(
            ["replay", str(scenario), "--no-progress", "--json", str(out / "r.json"),
             "--report", str(out / "html"), "--timeline", str(out / "t.jsonl")]
        )  # fmt: skip
    captured = capsys.readouterr()
    assert got == code, captured.out + captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert said in lines[0], lines[0]
    assert not out.exists()


HOSTILE = ["../../escaped", "/tmp/absolute-escape", "sub/dir/x", "..", "a" * 300, "тест name"]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_name_writes_only_inside_the_folder_named(
    name, tmp_path, capsys, django_db_blocker
) -> None:
    doc = copy.deepcopy(BASE)
    doc["name"] = name
    doc["load"][0].update(call="tests.fixture_apps.calls.preflight", args=["{n}"])
    work = tmp_path / "work"
    work.mkdir()
    scenario = work / "s.toml"
    scenario.write_text(tomli_w.dumps(doc))
    out = work / "reports"
    with django_db_blocker.unblock():
        got = main(["replay", str(scenario), "--no-progress", "--report", str(out)])
    captured = capsys.readouterr()
    assert got == 0, captured.out + captured.err
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != scenario]
    assert len(written) == 1 and written[0].parent == out, written
    assert written[0].name.endswith("-seed0.html") and "/" not in written[0].name
