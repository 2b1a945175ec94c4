"""[expect.activity] on a real replay: a setup that forgets a schedule fails, and holds once the
schedule is set up (the reference platform's own setup commands)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.scenario import SetupStep, read

pytestmark = pytest.mark.dbpath
FORGOTTEN = Path(__file__).parent / "activity-forgotten-purge.toml"


def test_a_forgotten_schedule_fails_and_holds_once_setup_creates_it(run_scenario):
    forgotten = read(str(FORGOTTEN))
    result = run_scenario(forgotten)
    verdict = result.verdict("activity")
    assert not verdict.ok
    assert [(p.rule, p.subject) for p in verdict.problems] == [
        ("missing-schedule", "common-cleanup-old-tasks")
    ]
    # the information said it too: the cleanup task exists and nothing ever enqueued it
    assert "apps.common.tasks.cleanup_old_tasks" in result.record.snapshot.task_functions
    assert (
        "task function apps.common.tasks.cleanup_old_tasks was never enqueued in the window "
        "(information)" in verdict.evidence
    )

    fixed = dataclasses.replace(
        forgotten, setup=[*forgotten.setup, SetupStep(command="setup_common_tasks")]
    )
    result = run_scenario(fixed)
    verdict = result.verdict("activity")
    assert verdict.ok, verdict.message
    assert verdict.message.startswith("3 schedules fired every period, 1 task rates met; ")
    fired = {e.data["schedule"] for e in result.timeline.of("schedule.fired")}
    assert "common-cleanup-old-tasks" in fired
    functions = result.record.snapshot.task_functions
    assert "apps.billing.tasks.generate_daily_invoices" in functions
    assert not [f for f in functions if f.startswith(("django_q.", "harness."))]
