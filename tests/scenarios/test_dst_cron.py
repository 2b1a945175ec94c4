"""CRON schedules across the 2026 DST transitions in Europe/Bucharest, judged by Vixie's rules.

The findings are django-q2's own (docs/findings.md): in the repeated hour of the fall-back night
its catch-up loop compares croniter's answer with "now" in one zone, where Python compares wall
clocks, so with ``catch_up`` off a fixed entry at 03:xx (and a ``*/10`` one at 03:50) hangs the
scheduler, and with ``catch_up`` on a fixed entry fires twice.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from pathlib import Path

import pytest

from harness.scenario import Scenario, SetupStep

pytestmark = pytest.mark.dbpath

HERE = Path(__file__).parent
ZONE = "Europe/Bucharest"
BUCHAREST = zoneinfo.ZoneInfo(ZONE)
PRAHO_MIX = {  # the cron shapes of PRAHO's billing and user schedules
    "praho-every-10": "*/10 * * * *",
    "praho-six-hourly": "0 */6 * * *",
    "praho-at-3": "0 3 * * *",
    "praho-at-215": "15 2 * * *",
}


def _scenario(start: dt.datetime, crons: dict[str, str], catch_up: bool, **fields) -> Scenario:
    return Scenario(
        name="dst-cron",
        start=start,
        time_zone=ZONE,
        duration=fields.pop("duration", dt.timedelta(hours=10)),
        seed=1,
        setup=[SetupStep(call="tests.fixture_apps.dst.cron_schedules", kwargs={"crons": crons})],
        cluster={"catch_up": catch_up},
        checks=["schedule-adherence", "lost-jobs", "driver-findings"],
        watchdog=2.0,
        **fields,
    )


def _fires(result, name: str) -> list[str]:
    return [
        f"{e.at.astimezone(BUCHAREST):%H:%M:%S %Z}"
        for e in result.timeline.of("schedule.fired", schedule=name)
    ]


def test_the_hang_in_the_repeated_hour_is_a_verdict_with_every_output(tmp_path, django_db_blocker):
    from harness.cli import main

    out = tmp_path / "out"
    with django_db_blocker.unblock():
        code = main(
            [
                "replay",
                str(HERE / "dst-fall-hang.toml"),
                "--no-progress",
                "--json",
                str(out / "run.json"),
                "--timeline",
                str(out / "run.jsonl"),
                "--report",
                str(out / "report"),
            ]
        )
    assert code == 1
    result = json.loads((out / "run.json").read_text())
    verdicts = {v["name"]: v for v in result["verdicts"]}
    message = verdicts["driver-findings"]["message"]
    assert not verdicts["driver-findings"]["ok"]
    assert "scheduler pass of cluster praho-cluster at 2026-10-25 03:30:30 EEST" in message
    assert "schedule 'fixture-0330'" in message and "cron '30 3 * * *'" in message
    assert "catch_up off" in message and "croniter answers 03:30 EET" in message
    assert (  # the spin ends when the clock falls back, not at croniter's answer
        "a real cluster spins for 29 min 30 s, until the clock falls back (03:00 EET), and then "
        "sets next_run to 2026-10-25 03:30 EET" in message
    )
    assert result["stopped"] and result["end"].startswith("2026-10-25T00:30:30")
    # the pass's enqueues were rolled back with it: not lost; the earlier runs all held
    assert verdicts["lost-jobs"]["ok"], verdicts["lost-jobs"]["message"]
    assert verdicts["schedule-adherence"]["ok"], verdicts["schedule-adherence"]["message"]
    kinds = [json.loads(line)["kind"] for line in (out / "run.jsonl").read_text().splitlines()]
    assert kinds[-1] == "run.stopped" and "task.rolledback" in kinds
    assert list((out / "report").glob("*.html"))


def test_with_catch_up_on_the_fixed_entry_fires_twice_and_fails(run_scenario):
    start = dt.datetime(2026, 10, 25, 2, 0, tzinfo=BUCHAREST)
    result = run_scenario(_scenario(start, {"fixture-0330": "30 3 * * *"}, catch_up=True))
    assert _fires(result, "fixture-0330") == ["03:30:30 EEST", "03:30:30 EET"]
    verdict = result.verdict("schedule-adherence")
    assert not verdict.ok
    assert "fixture-0330: 03:30 fired twice in the repeated hour" in verdict.message
    assert result.verdict("driver-findings").ok


@pytest.mark.parametrize("when", ["spring", "fall"])
def test_the_praho_mix_raises_no_false_alarm(run_scenario, when):
    """Everything reported is a fault the timeline shows; nothing else is reported.

    Spring forward: every schedule holds (0 3 runs at the jump). Fall back with catch_up on (so
    nothing hangs): only ``0 3`` is reported, for its second run in the repeated hour; ``*/10``
    runs in both occurrences of the hour, as a wildcard entry should.
    """
    day = {"spring": dt.datetime(2026, 3, 28, 20, 0), "fall": dt.datetime(2026, 10, 24, 20, 0)}
    result = run_scenario(
        _scenario(day[when].replace(tzinfo=BUCHAREST), PRAHO_MIX, catch_up=(when == "fall"))
    )
    verdict = result.verdict("schedule-adherence")
    if when == "spring":
        assert result.ok, result.explain()
        assert "04:00:30 EEST" in _fires(result, "praho-at-3")
        return
    assert _fires(result, "praho-at-3") == ["03:00:30 EEST", "03:00:30 EET"]
    assert verdict.evidence and all(e.startswith("praho-at-3:") for e in verdict.evidence)
    every_10 = _fires(result, "praho-every-10")
    assert "03:50:30 EEST" in every_10 and "03:00:30 EET" in every_10
    assert result.verdict("driver-findings").ok and result.verdict("lost-jobs").ok


def test_with_catch_up_off_the_praho_mix_hangs_at_its_first_repeated_time(run_scenario):
    start = dt.datetime(2026, 10, 24, 20, 0, tzinfo=BUCHAREST)
    result = run_scenario(_scenario(start, PRAHO_MIX, catch_up=False))
    findings = result.verdict("driver-findings")
    assert not findings.ok
    assert "at 2026-10-25 03:00:30 EEST" in findings.message
    assert "schedule 'praho-at-3'" in findings.message
    assert result.verdict("schedule-adherence").ok  # judged up to the stop: all on time
