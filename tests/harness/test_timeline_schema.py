"""The timeline's schema, generated from the event kinds (harness.record.timeline.KINDS).

Every golden timeline validates against it, and so does a run that writes the kinds the
goldens lack; the committed ``docs/timeline.schema.json`` is the generated one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from harness import ClusterSpec, Durations
from harness.record.timeline import KINDS, TASK_KINDS, schema, schema_text

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = sorted(
    {
        *ROOT.glob("scenarios/golden/*.jsonl"),  # the reference scenarios, at the top level
        *ROOT.glob("reference/scenarios/golden/*.jsonl"),  # … or still beside the platform
        *ROOT.glob("examples/*/scenarios/golden/*.jsonl"),
        *ROOT.glob("tests/*/golden/*.jsonl"),
    }
)
VALIDATOR = Draft202012Validator(schema())


def _by_kind() -> dict[str, Draft202012Validator]:
    """One validator per kind: the schema with its ``allOf`` cut to the one ``if kind == K``
    branch that applies (the others are vacuous for a K line), so a golden of 40,000 lines is
    not checked against every kind's condition on every line."""
    whole = schema()
    out = {}
    for branch in whole["allOf"]:
        kind = branch["if"]["properties"]["kind"]["const"]
        out[kind] = Draft202012Validator({**whole, "allOf": [branch]})
    return out


BY_KIND = _by_kind()


def _problems(lines: list[str], source: str) -> list[str]:
    out = []
    for n, line in enumerate(lines, 1):
        event = json.loads(line)
        validator = (
            BY_KIND.get(event.get("kind"), VALIDATOR) if isinstance(event, dict) else VALIDATOR
        )
        for error in validator.iter_errors(event):
            path = "/".join(str(p) for p in error.absolute_path)
            out.append(f"{source}:{n}: {path or '(line)'}: {error.message}")
    return out


def test_the_schema_is_valid_json_schema_and_the_committed_file_is_generated() -> None:
    Draft202012Validator.check_schema(schema())
    committed = (ROOT / "docs" / "timeline.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), (
        "docs/timeline.schema.json is stale: run tools/timeline-schema"
    )


def test_the_goldens_are_found() -> None:
    names = {p.name for p in GOLDENS}
    assert "determinism.jsonl" in names and "month-in-production.jsonl" in names
    assert len(GOLDENS) >= 10


@pytest.mark.parametrize("golden", GOLDENS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_golden_validates_against_the_schema(golden: Path) -> None:
    lines = golden.read_text(encoding="utf-8").splitlines()
    assert lines
    assert _problems(lines, golden.name) == []


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ({"t": "2026-03-01T00:00:00.000000Z", "kind": "task.vanished", "task": "a"}, "kind"),
        ({"t": "2026-03-01T00:00:00.000000Z", "kind": "cluster.up"}, "'cluster' is a required"),
        ({"t": "2026-03-01T00:00:00.000000Z", "kind": "cluster.up", "cluster": "q", "x": 1}, "x"),
        ({"t": "2026-03-01T00:00:00Z", "kind": "cluster.up", "cluster": "q"}, "does not match"),
        (
            {"t": "2026-03-01T00:00:00.000000Z", "kind": "task.acked", "task": 1, "queue": "q"},
            "is not of type 'string'",
        ),
        (
            {
                "t": "2026-03-01T00:00:00.000000Z", "kind": "task.finished", "task": "a",
                "func": "f", "cluster": "q", "attempt": 1, "outcome": "lost", "error": None,
            },
            "'lost' is not one of",
        ),
    ],
)  # fmt: skip
def test_the_schema_refuses_what_no_writer_writes(line: dict, why: str) -> None:
    problems = _problems([json.dumps(line)], "line")
    assert problems and any(why in p for p in problems), problems


def test_a_finding_may_carry_its_own_details() -> None:
    line = {"t": "2026-03-01T00:00:00.000000Z", "kind": "finding", "finding": "x", "detail": "y"}
    assert _problems([json.dumps(line)], "line") == []


def test_each_kind_is_defined_once_with_a_doc() -> None:
    assert all(k.doc and k.name == name for name, k in KINDS.items())
    assert all("task" in KINDS[name].required for name in TASK_KINDS)


SAMPLE = "tests.harness.sample_tasks."
DOWN = (datetime(2026, 3, 1, 0, 10, tzinfo=UTC), datetime(2026, 3, 1, 0, 20, tzinfo=UTC))


@pytest.mark.django_db
@pytest.mark.qsim(
    start="2026-03-01T00:00:00+00:00",
    clusters=[ClusterSpec(name="q", retry=3600, downtime=[DOWN])],
    durations=Durations(per_func={SAMPLE + "tick": 1800.0}),  # still running at the downtime
    strict=False,
)
def test_a_run_that_writes_the_kinds_the_goldens_lack_validates(qsim) -> None:
    """Rolled-back enqueues and a finding (a scheduler pass that fails after enqueuing), sleeps
    and logs, a failure, a killed attempt and a cluster going down and up: each line validates."""
    from django_q.models import Schedule
    from django_q.tasks import async_task, schedule

    for name, offset in (("fine", 0), ("broken", 1)):  # due in each pass, "fine" first
        next_run = qsim.now() + timedelta(seconds=offset)
        schedule(SAMPLE + "add", 1, 2, name=name, next_run=next_run, cluster="q")
    Schedule.objects.filter(name="broken").update(args="(1, ")
    for func, args in (("backoff", (2, 0.5)), ("warn_and_return", ()), ("fail", ()), ("tick", ())):
        async_task(SAMPLE + func, *args, cluster="q")
    qsim.advance(minutes=30)
    kinds = {e.kind for e in qsim.timeline}
    wanted = {"task.rolledback", "finding", "task.slept", "task.logged", "task.killed"}
    assert wanted | {"cluster.down", "cluster.up", "task.finished"} <= kinds, kinds
    lines = qsim.timeline.dumps().splitlines()
    assert _problems(lines, "run") == []
