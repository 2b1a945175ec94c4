"""Judge a recorded run: the checkers over a :class:`~harness.record.run.RunRecord`.

A live replay is judged exactly as a saved one: its record goes through the JSON form first
(:func:`judge_record`), so the checkers see the same values either way — and ``harness judge
RUN.json`` gives the same verdicts as the replay that wrote it.
"""

from __future__ import annotations

from typing import Any

from harness.checkers import RunContext, Verdict, run_all
from harness.record.run import RunRecord


def parse_expect(raw: dict[str, Any], source: str) -> tuple[dict[str, dict[str, Any]], list | None]:
    """The ``[expect]`` tables of a record, validated and parsed as the scenario reader does."""
    from harness.scenario.parse import parse_expect_table

    return parse_expect_table(raw, source)


def judge(record: RunRecord, expect_raw: dict[str, Any] | None = None) -> list[Verdict]:
    """Every chosen checker's verdict on ``record`` (``expect_raw``: other expectations)."""
    raw = record.scenario.expect if expect_raw is None else expect_raw
    expect, checks = parse_expect(raw, record.scenario.source)
    if checks is None and expect_raw is None:
        checks = record.scenario.checks
    return run_all(RunContext(record, expect), checks)


def judge_record(record: RunRecord) -> tuple[RunRecord, list[Verdict]]:
    """Round-trip a live record through its JSON form, then judge what came back."""
    judged = RunRecord.from_json(record.to_json())
    return judged, judge(judged)
