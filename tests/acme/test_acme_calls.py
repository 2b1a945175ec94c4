"""What acme's code does beyond its return values, seen by a replay from its root.

* its Stripe client backs off 0.5 s, 1 s, 2 s between retries: virtual sleeps, inside the task's
  run time, never a real wait;
* its LOGGING sets the ``apps`` loggers' level from ``ACME_LOG_LEVEL``: at ERROR the decline
  warnings of its renewal task are still kept with the task, and the timeline is the same;
* its billing app registers a schedule in ``AppConfig.ready()`` behind a setting: it fires on
  virtual time from the run's start, and Django's start-up writes nothing to the configured
  database.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import uuid

import pytest

from tests.acme.conftest import ACME, acme_env

pytestmark = pytest.mark.dbpath


def _t(event: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(event["t"].replace("Z", "+00:00"))


def test_backoff_sleeps_are_virtual_and_part_of_the_run_time(acme) -> None:
    run = acme("replay", "stripe-backoff", "--database", "harness", count_sleeps=True)
    assert run.code == 0, run.out + run.err
    real = re.search(r"REAL-SLEEPS (\d+) ([\d.]+)", run.err)
    assert real is not None and real.group(1) == "0", run.err  # not one real sleep
    slept = run.of("task.slept")
    assert {e["seconds"] for e in slept} <= {"0.5", "1.5", "3.5"}  # 0.5·2^n, up to 3 retries
    assert {"0.5", "1.5", "3.5"} & {e["seconds"] for e in slept}
    for e in slept:  # the sleeps are inside the task's duration (configured 200 ms + slept)
        started = run.of("task.started", task=e["task"], attempt=e["attempt"])[0]
        finished = run.of("task.finished", task=e["task"], attempt=e["attempt"])[0]
        assert (_t(finished) - _t(started)).total_seconds() == pytest.approx(
            0.2 + float(e["seconds"])
        )
    assert run.verdict("duplicate-effects")["ok"]


def _psql_settings() -> dict:
    from harness.infra.database import resolve

    return dict(resolve().settings)


def test_a_ready_schedule_fires_on_virtual_time_and_startup_writes_nothing(acme) -> None:
    import psycopg

    from harness.infra.database import psycopg_kwargs

    server = _psql_settings()
    name = f"acme_cfg_{uuid.uuid4().hex[:8]}"
    env = acme_env(
        POSTGRES_DB=name,
        POSTGRES_HOST=str(server["HOST"]),
        POSTGRES_PORT=str(server["PORT"]),
        POSTGRES_USER=str(server["USER"]),
        POSTGRES_PASSWORD=str(server.get("PASSWORD") or ""),
    )
    with psycopg.connect(**psycopg_kwargs(server, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        migrate = subprocess.run(  # the project's configured database, as its team has it
            [sys.executable, "manage.py", "migrate", "-v0"],
            cwd=ACME,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrate.returncode == 0, migrate.stderr
        run = acme(
            "replay",
            "stripe-backoff",
            "--until",
            "3h",
            env={**env, "ACME_CHARGE_RECONCILIATION": "1"},
        )
        assert run.code == 0, run.out + run.err
        with psycopg.connect(**psycopg_kwargs(server, name)) as conn:
            rows = conn.execute(
                "SELECT count(*) FROM django_q_schedule WHERE name = 'charge-reconciliation'"
            ).fetchone()
        assert rows == (0,)  # ready() ran at start-up, yet nothing reached this database
    finally:
        with psycopg.connect(**psycopg_kwargs(server, "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert run.of("startup.ready", app="billing")
    fired = run.of("schedule.fired", schedule="charge-reconciliation")
    start = dt.datetime(2026, 3, 2, 5, 0, tzinfo=dt.UTC)  # 00:00 New York
    # HOURLY from the virtual start (next_run = now() when ready() created it), on the
    # scheduler's 30 s grid
    assert [_t(e) - start for e in fired] == [
        dt.timedelta(seconds=30),
        dt.timedelta(hours=1, seconds=30),
        dt.timedelta(hours=2, seconds=30),
    ]


def test_without_the_setting_ready_registers_nothing(acme) -> None:
    run = acme("replay", "stripe-backoff", "--until", "2h", "--database", "harness")
    assert run.code == 0, run.out + run.err
    assert not run.of("startup.ready")
    assert not run.of("schedule.fired", schedule="charge-reconciliation")


def test_a_stricter_log_level_changes_nothing_the_replay_keeps(acme) -> None:
    quiet = acme(
        "replay", "receipts", "--database", "harness", env=acme_env(ACME_LOG_LEVEL="ERROR")
    )
    usual = acme("replay", "receipts", "--database", "harness")
    assert quiet.code == usual.code, quiet.out + quiet.err
    declines = [
        r
        for e in quiet.of("task.logged")
        for r in e["records"]
        if r[:2] == ["WARNING", "apps.billing.tasks"] and "declined" in r[2]
    ]
    assert declines, [e["records"] for e in quiet.of("task.logged")]
    assert quiet.of("task.logged") == usual.of("task.logged")
    assert (quiet.folder / "timeline.jsonl").read_text() == (
        usual.folder / "timeline.jsonl"
    ).read_text()
