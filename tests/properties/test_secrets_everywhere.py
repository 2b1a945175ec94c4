"""A configured secret never leaves in clear: wherever a run can carry a string, no output byte
holds it — the JSON, the timeline, the HTML report, the terminal summary — while the secrets
checker still fails on the leak and says where.

Built on a recorded run (no database): the record is what a replay hands to its outputs, so each
example places one random secret in several of the places a scenario's strings reach (task
arguments, a load's arguments and error, what a task logged and returned, a fake's ledger entry,
a finding, a fault rule, the scenario's own [expect] tables, Task rows, log lines) and runs every
output path. The replay side (the secret set in a real run) is tests/scenarios/test_secrets.py.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rich.console import Console

from harness.fakes.ledger import LedgerEntry
from harness.record.run import RunRecord, ScenarioFacts, Snapshot
from harness.record.timeline import Timeline
from harness.report import print_summary
from harness.report.html import render_html
from harness.run.judge import judge_record
from harness.run.result import RunResult
from harness.sim.cluster import ClusterSpec

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
PLACES = (
    "task-args",
    "load-args",
    "load-error",
    "logged",
    "returned",
    "ledger",
    "finding",
    "fault-rule",
    "task-row",
    "log-line",
)
SECRETS = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x24F, exclude_characters="«»"),
    min_size=8,
    max_size=40,
).filter(lambda s: len(set(s)) > 3)
CONTROL = "\u2603 no secret \u2603"  # outside that alphabet: no generated secret is this one


def _record(secret: str, places: set[str]) -> RunRecord:
    s = lambda place: secret if place in places else "nothing"  # noqa: E731
    tl = Timeline()
    at = START + dt.timedelta(minutes=1)
    tl.add(
        at,
        "load.called",
        load="orders",
        call="app.load",
        args=[s("load-args")],
        kwargs={},
        outcome="raised",
        error=f"ValueError: {s('load-error')}",
    )
    tl.add(
        at,
        "task.enqueued",
        task="t" * 32,
        func="app.tasks.t",
        args=[s("task-args")],
        kwargs={"token": s("task-args")},
        queue="c",
        group=None,
    )
    tl.add(at, "task.claimed", task="t" * 32, func="app.tasks.t", cluster="c", redelivery=False)
    tl.add(at, "task.started", task="t" * 32, func="app.tasks.t", cluster="c", attempt=1)
    tl.add(
        at,
        "task.logged",
        task="t" * 32,
        func="app.tasks.t",
        attempt=1,
        counts={"ERROR": 1},
        records=[["ERROR", "app", f"login failed for {s('logged')}"]],
    )
    tl.add(
        at,
        "task.finished",
        task="t" * 32,
        func="app.tasks.t",
        cluster="c",
        attempt=1,
        outcome="ok",
        error=None,
        returned={"success": False, "error": s("returned")},
    )
    tl.add(at, "task.acked", task="t" * 32, queue="c")
    ledger = [
        LedgerEntry(
            1,
            at,
            "virtualmin",
            "POST",
            "/x",
            "create-domain",
            s("ledger"),
            None,
            200,
            None,
            "t" * 32,
            1,
            {"password": s("ledger")},
        )
    ]
    return RunRecord(
        scenario=ScenarioFacts(
            name="leaky",
            source="leaky.toml",
            time_zone="Europe/Bucharest",
            start=START,
            duration=dt.timedelta(hours=1),
            seed=1,
            expect={"secrets": {"values": [secret]}},
            loads=[{"name": "orders", "call": "app.load", "allow_failures": 0}],
        ),
        seed=1,
        end=START + dt.timedelta(hours=1),
        timeline=tl,
        clusters=[ClusterSpec(name="c")],
        ledger=ledger,
        findings=[
            {
                "finding": "network refused",
                "at": at.isoformat(),
                "func": "app.tasks.t",
                "destination": f"{s('finding')}:443",
                "client": "requests",
            }
        ],
        fault_rules=[
            {"fake": "virtualmin", "type": "error", "status": 500, "message": s("fault-rule")}
        ],
        snapshot=Snapshot(
            task_rows={
                "t" * 32: {"func": "app.tasks.t", "success": True, "text": f"({s('task-row')!r},)"}
            },
            logs=[f"ERROR app: {s('log-line')}"],
            secrets=["secret value #1"],
        ),
        secret_values=[("secret value #1", secret)],
    )


def _outputs(record: RunRecord) -> tuple[dict[str, str], RunResult]:
    recorded, judged = judge_record(record)
    result = RunResult(record=recorded, verdicts=judged.verdicts, command="harness replay x")
    summary = io.StringIO()
    print_summary(result, Console(file=summary, width=140))
    outputs = {
        "json": json.dumps(result.to_dict(), indent=2, sort_keys=True),
        "timeline": result.timeline.dumps(),
        "report": render_html(result),
        "summary": summary.getvalue(),
    }
    return outputs, result


@settings(max_examples=200, deadline=None)
@given(secret=SECRETS, places=st.sets(st.sampled_from(PLACES), min_size=1))
def test_a_configured_secret_reaches_no_output(secret: str, places: set[str]) -> None:
    spellings = {
        secret,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1],
        html.escape(secret),
        repr(secret)[1:-1],
    }
    # A "secret" the outputs hold whatever the secret is proves nothing (Hypothesis also tries
    # strings it finds in the code, such as "duplicat" of the task table's "duplicates").
    control, _ = _outputs(_record(CONTROL, places))
    assume(not any(spelling in text for text in control.values() for spelling in spellings))
    outputs, result = _outputs(_record(secret, places))
    for name, text in outputs.items():
        for spelling in spellings:
            assert spelling not in text, f"the secret reached the {name} as {spelling!r}"
    scanned = places & {
        "task-args",
        "load-args",
        "load-error",
        "logged",
        "returned",
        "task-row",
        "log-line",
    }
    verdict = next(v for v in result.verdicts if v.name == "secrets")
    if scanned:
        assert not verdict.ok and "secret value #1 found in" in verdict.message
