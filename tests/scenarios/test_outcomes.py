"""What calls report beyond raising, judged: load arrivals, quiet failures, runaways, signals.

* a load that raises in 3 of 10 arrivals fails the run naming the error, unless its
  ``allow_failures`` covers them; a load that logs a warning and returns is named in the
  summary's arrivals line;
* a task that catches its error, logs it and returns ``{"success": False}`` fails the run;
* a ``post_save`` → ``async_task`` loop ends with a runaway verdict naming the chain, with the
  JSON, timeline and report written;
* Ctrl+C (SIGINT) and SIGTERM during a replay write what the run has so far, marked partial.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.scenario import LoadSpec, read

pytestmark = pytest.mark.dbpath
HERE = Path(__file__).parent
REPO = HERE.parents[1]
HARNESS = Path(sys.executable).parent / "harness"


def test_raising_arrivals_fail_the_run_and_warnings_are_named(cli, tmp_path) -> None:
    out_json = tmp_path / "r.json"
    code, out, err = cli(
        "replay", str(HERE / "load-outcomes.toml"), "--no-progress", "--json", str(out_json)
    )
    assert code == 1, out + err
    data = json.loads(out_json.read_text())
    events = [json.loads(line) for line in data["record"]["timeline"]]
    orders = [e for e in events if e["kind"] == "load.called" and e["load"] == "orders"]
    assert len(orders) == 10
    assert [e["outcome"] for e in orders].count("raised") == 3
    assert orders[1]["error"] == (
        "ValueError: order 2: the payment gateway rejected the customer's country"
    )
    verdict = next(v for v in data["verdicts"] if v["name"] == "load-outcomes")
    assert not verdict["ok"]
    assert verdict["message"].startswith("orders: 3 of 10 arrivals failed")
    assert "ValueError: order 2" in verdict["message"]
    arrivals = out[out.index("Arrivals") :]
    assert "preflight: 10 arrivals, 10 returned" in arrivals
    assert "Preflight validation failed: no current price for RON" in arrivals


def test_allow_failures_covers_the_raising_arrivals(django_db_blocker, run_scenario) -> None:
    scenario = read(str(HERE / "load-outcomes.toml"))
    scenario.loads[0].allow_failures = 3
    result = run_scenario(scenario)
    assert result.verdict("load-outcomes").ok, result.verdict("load-outcomes").message
    scenario.loads[0].allow_failures = 2
    assert not run_scenario(scenario).verdict("load-outcomes").ok


def test_the_message_counts_every_failing_arrival_of_every_load(run_scenario) -> None:
    scenario = read(str(HERE / "load-outcomes.toml"))
    minutes = [dt.timedelta(minutes=m) for m in range(1, 6)]
    scenario.loads.append(
        LoadSpec(name="charges", call="tests.fixture_apps.calls.charge", args=["{n}"], at=minutes)
    )
    verdict = run_scenario(scenario).verdict("load-outcomes")
    assert not verdict.ok
    assert verdict.message.startswith(
        "orders, charges: 6 of 15 arrivals failed (orders: 3 raised; charges: 1 raised, "
        "2 returned an error); first at "
    ), verdict.message
    assert len(verdict.problems) == 6
    causes = sorted({(p.subject, p.cause) for p in verdict.problems if p.subject == "charges"})
    assert causes == [  # each error its own root cause, named
        ("charges", "ConnectionError: payment gateway unreachable"),
        ("charges", "returned an error-shaped result {success: False}: card declined (charge N)"),
    ], causes
    assert (
        "charges: 5 arrivals, 2 returned, 1 raised, 2 returned an error (allow_failures = 0)"
        in (verdict.evidence)
    )
    scenario.loads[-1].allow_failures = 3  # only orders fail now
    verdict = run_scenario(scenario).verdict("load-outcomes")
    assert verdict.message.startswith("orders: 3 of 10 arrivals failed (orders: 3 raised); first")


def test_a_swallowed_error_fails_the_run_naming_the_task_and_its_message(run_scenario) -> None:
    result = run_scenario(str(HERE / "load-outcomes.toml"))
    verdict = result.verdict("quiet-failures")
    assert not verdict.ok
    assert "5 of 5 successful executions reported a failure" in verdict.message
    assert "swallow(1)" in verdict.message and "{success: False}" in verdict.message
    assert "auto-renewal failed: Cannot resolve keyword 'renewal' for customer 1" in verdict.message


def _run(args: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    return subprocess.run(
        [str(HARNESS), *args], cwd=cwd, env=env, capture_output=True, text=True, **kw
    )


def test_a_signal_loop_ends_as_a_runaway_verdict_with_outputs_written(tmp_path) -> None:
    proc = _run(
        [
            "replay",
            "tests/scenarios/signal-loop.toml",
            "--no-progress",
            "--json",
            str(tmp_path / "r.json"),
            "--timeline",
            str(tmp_path / "t.jsonl"),
            "--report",
            str(tmp_path / "html"),
        ],
        REPO,
        timeout=120,  # before the guard, this replay never ended
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["stopped"].startswith("runaway at 2026-09-15 10:00:00 EEST: ")
    assert "[tests.fixture_apps.calls.touch_customer] repeated (201 tasks" in data["stopped"]
    assert "via post_save receiver tests.fixture_apps.calls._on_customer_saved" in data["stopped"]
    assert (tmp_path / "t.jsonl").read_text().splitlines()[-1].count('"reason":"runaway"')
    assert (tmp_path / "html" / "signal-loop-seed1.html").exists()
    assert "work went on without virtual time passing (runaway)" in proc.stdout


@pytest.mark.parametrize(
    ("sig", "code", "name"), [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_an_interrupted_replay_writes_a_partial_run(tmp_path, sig, code, name) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [str(HARNESS), "replay", "month-in-production", "--json", str(out)],
        cwd=REPO,  # the repository root, as the README runs it
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = 0
    for line in proc.stderr:  # one progress line per simulated day off a terminal
        seen += line.startswith("simulating")
        if seen == 2:
            break
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stdout + stderr
    assert f"harness: interrupted ({name}): a partial run; written, marked partial: {out}" in stderr
    assert "Traceback" not in stderr
    data = json.loads(out.read_text())
    assert data["partial"] is True and data["interrupted"] == name
    last = json.loads(data["record"]["timeline"][-1])
    assert last["kind"] == "run.stopped" and last["reason"] == "interrupted"
    assert f"interrupted by {name}" in stdout
