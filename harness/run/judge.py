"""Judge a recorded run: the checkers over a :class:`~harness.record.run.RunRecord`.

A live replay is judged exactly as a saved one: its record goes through the JSON form first
(:func:`judge_record`), so the checkers see the same values either way — and ``harness judge
RUN.json`` gives the same verdicts as the replay that wrote it. A baseline (the record's own, or
another given here) sets known problems aside and names the ones that no longer occur.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from harness.checkers import RunContext, Verdict, run_all
from harness.checkers.baseline import Baseline, Entry
from harness.checkers.expectations import parse
from harness.record.run import RunRecord


class Judgement(NamedTuple):
    verdicts: list[Verdict]
    fixed: list[Entry]  # baseline entries that no longer occur ("remove from baseline")


def judge(
    record: RunRecord, expect_raw: dict[str, Any] | None = None, baseline: Baseline | None = None
) -> Judgement:
    """Every chosen checker's verdict on ``record`` (``expect_raw``: other expectations;
    ``baseline``: other known problems than the record's own)."""
    raw = record.scenario.expect if expect_raw is None else expect_raw
    expectations = parse(raw, record.scenario.source)
    checks = expectations.checks
    if checks is None and expect_raw is None:
        checks = record.scenario.checks
    verdicts = run_all(RunContext(record, expectations), checks)
    if baseline is None and record.baseline is not None:
        baseline = Baseline.from_data(record.baseline, record.baseline.get("source", "<run>"))
    if baseline is None:
        return Judgement(verdicts, [])
    verdicts, fixed = baseline.apply(verdicts)
    return Judgement(verdicts, fixed)


def judge_record(record: RunRecord) -> tuple[RunRecord, Judgement]:
    """Round-trip a live record through its JSON form, then judge what came back."""
    judged = RunRecord.from_json(record.to_json())
    return judged, judge(judged)
