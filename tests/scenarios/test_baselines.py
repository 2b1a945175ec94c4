"""Verdicts a developer can act on: one line per root cause, baselines, fixed fingerprints.

The acceptance of "problems grouped by root cause": a known bug with sixty instances is one line
of the summary; with a baseline the run holds; a second bug fails it naming only the new
fingerprint; and once the first is fixed the summary says to remove it from the baseline.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

import pytest
from rich.console import Console

from harness.checkers.baseline import Baseline, dumps
from harness.report import print_summary
from harness.scenario import LoadSpec, read

pytestmark = pytest.mark.dbpath
HERE = Path(__file__).parent
SWALLOW = "quiet-failures · error-result"


def _summary(result) -> str:
    out = io.StringIO()
    print_summary(result, Console(file=out, width=200))
    return out.getvalue()


def _with_second_bug(scenario):
    broken = copy.deepcopy(scenario)
    broken.loads.append(
        LoadSpec(name="orders", call="tests.fixture_apps.calls.flaky_order", args=["{n}"], at=[])
    )
    broken.loads[-1].every = scenario.duration / 4
    return broken


def test_one_root_cause_one_line_then_baselined_then_new_then_fixed(run_scenario, tmp_path):
    scenario = read(str(HERE / "known-bug.toml"))
    first = run_scenario(scenario)
    verdict = first.verdict("quiet-failures")
    assert len(verdict.problems) >= 50  # sixty instances …
    assert len({p.fingerprint for p in verdict.problems}) == 1  # … of one problem
    text = _summary(first)
    lines = [line for line in text.splitlines() if SWALLOW in line]
    assert len(lines) == 1, text
    assert "60 times" in lines[0] and "2026-09-15 10:00 EEST – 14:55 EEST" in lines[0]

    baseline = tmp_path / "baseline.toml"
    problems = [p for v in first.verdicts for p in v.problems]
    baseline.write_text(dumps(problems, "test baseline"))
    known = run_scenario(scenario, baseline=baseline)
    assert known.ok, known.explain()
    assert "60 known problems set aside by the baseline" in _summary(known)

    worse = run_scenario(_with_second_bug(scenario), baseline=baseline)
    assert not worse.ok
    new = {p.fingerprint for v in worse.verdicts for p in v.problems}
    assert len(new) == 1 and next(iter(new)) not in Baseline.read(baseline).entries
    assert [v.name for v in worse.failed] == ["load-outcomes"]

    fixed = copy.deepcopy(scenario)
    fixed.loads[0].call = "tests.fixture_apps.calls.enqueue_fixed"
    after = run_scenario(fixed, baseline=baseline)
    assert after.ok, after.explain()
    assert [e.fingerprint for e in after.fixed] == [p.fingerprint for p in verdict.problems[:1]]
    text = _summary(after)
    assert "Fixed — remove from baseline" in text and SWALLOW in text
