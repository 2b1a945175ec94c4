"""The system broken on purpose, once per checker: small scenarios built with the Python API.

``BROKEN`` maps every checker's name to a scenario that must fail it (the task code is
``tests/fixture_apps/broken_tasks.py``). ``test_broken_variants.py`` checks what each failure
says; ``test_problems.py`` checks, over every checker, that a failing verdict carries its
problems and a holding one none. A new checker needs an entry here (a test says so).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

from harness.scenario import FakeSpec, LoadSpec, Scenario, SetupStep

HERE = "tests.fixture_apps.broken_tasks"
ZONE = "Europe/Bucharest"
START = dt.datetime(2026, 2, 10, 10, 17, 23, tzinfo=zoneinfo.ZoneInfo(ZONE))


def scenario(name: str, **fields) -> Scenario:
    fields.setdefault("duration", dt.timedelta(minutes=30))
    return Scenario(name=name, start=START, time_zone=ZONE, seed=1, **fields)


def load(call: str, *offsets_min: int, args=("{n}",)) -> LoadSpec:
    return LoadSpec(
        name=call.rsplit(".", 1)[-1],
        call=f"{HERE}.{call}",
        args=list(args),
        at=[dt.timedelta(minutes=m) for m in offsets_min],
    )


def payments(lost: int = 1, **options) -> FakeSpec:
    """The payments fake, losing the responses to its first ``lost`` requests."""
    return FakeSpec(
        name="payments",
        url="{settings.STRIPE_API_BASE}",
        options={"secret_key": "{settings.STRIPE_SECRET_KEY}", **options},
        faults=[{"type": "lost_response", "fake": "payments", "max_count": lost}],
    )


def unserved() -> Scenario:
    return scenario("unserved", loads=[load("enqueue_to_unserved_cluster", 2)])


def no_idempotency_key() -> Scenario:
    """Two invoices charged at once; both responses lost, both charges retried blindly."""
    return scenario(
        "no-idempotency-key",
        loads=[load("enqueue_charge", 1, 1)],
        fakes=[payments(lost=2)],
        cluster={"retry": 60, "max_attempts": 3},
    )


def anchored_daily() -> Scenario:
    return scenario(
        "anchored-daily",
        duration=dt.timedelta(days=1, hours=1),
        setup=[SetupStep(call=f"{HERE}.schedule_daily_at_creation")],
        expect={"schedule-adherence": {"at": {"fixture-daily-report": "02:00"}}},
    )


def redelivered_forever() -> Scenario:
    """Three tasks of one function that always fails, redelivered forever."""
    return scenario(
        "redelivered-forever",
        duration=dt.timedelta(minutes=20),
        loads=[load("enqueue_always_fails", 1, 2, 3)],
        cluster={"retry": 60, "max_attempts": 0, "ack_failures": False},
        expect={"retry-discipline": {"max_attempts": 50}},
    )


def fan_out() -> Scenario:
    return scenario(
        "fan-out",
        duration=dt.timedelta(minutes=10),
        loads=[load("start_fan_out", 1, args=[5])],
        cluster={"workers": 1},
        durations_per_func={f"{HERE}.fan_out": 1.0},
        expect={"queue-bound": {"max_depth": 10}},
    )


def slow_waits() -> Scenario:
    """Three 100-second tasks on one worker wait longer than their bound; a second rule names a
    glob that matches no task."""
    return scenario(
        "slow-waits",
        duration=dt.timedelta(minutes=10),
        loads=[load("enqueue_slow", 1, 2, 3)],
        cluster={"workers": 1, "retry": 600},
        durations_per_func={f"{HERE}.noop": 100.0},
        expect={
            "task-metrics": {
                f"{HERE}.noop": {"max_wait": "10s"},
                "apps.billing.*": {"max_wait": "1m"},
            }
        },
    )


def bad_enqueues() -> Scenario:
    """PRAHO's ``schedule=`` bug three times, and a wrong dotted path once."""
    return scenario(
        "bad-enqueues",
        loads=[load("enqueue_reminder_with_schedule", 1, 3, 5), load("enqueue_wrong_path", 2)],
    )


def quiet() -> Scenario:
    return scenario("quiet", loads=[load("enqueue_quiet_failure", 1, 2)])


def raising_load() -> Scenario:
    return scenario("raising-load", loads=[load("always_fails", 1, 2)])


def leaky() -> Scenario:
    return scenario(
        "leaky",
        loads=[load("enqueue_leaky", 1)],
        expect={"secrets": {"setting_names": ["STRIPE_SECRET_KEY"], "patterns": []}},
    )


def unaudited() -> Scenario:
    """Two failed executions of one function, neither audited."""
    return scenario(
        "unaudited",
        loads=[load("enqueue_unaudited", 1, 2)],
        cluster={"max_attempts": 1},
        expect={"audit": {"model": "common.AuditEvent", "require": ["effects", "failures"]}},
    )


def bad_schedule_args() -> Scenario:
    return scenario(
        "bad-schedule-args",
        duration=dt.timedelta(minutes=3),
        setup=[SetupStep(call=f"{HERE}.schedule_with_bad_args")],
    )


def inactive() -> Scenario:
    """A purge schedule nobody registered, and a task function that must run every 10 minutes
    but runs twice in half an hour."""
    return scenario(
        "inactive",
        loads=[load("noop", 1, 2)],
        expect={
            "activity": {
                "schedules": ["purge-expired-tokens"],
                "tasks": {f"{HERE}.noop": "1/10m"},
            }
        },
    )


BROKEN: dict[str, Callable[[], Scenario]] = {
    "activity": inactive,
    "lost-jobs": unserved,
    "duplicate-effects": no_idempotency_key,
    "schedule-adherence": anchored_daily,
    "retry-discipline": redelivered_forever,
    "queue-bound": fan_out,
    "task-metrics": slow_waits,
    "enqueue-contract": bad_enqueues,
    "quiet-failures": quiet,
    "load-outcomes": raising_load,
    "secrets": leaky,
    "audit": unaudited,
    "driver-findings": bad_schedule_args,
}
