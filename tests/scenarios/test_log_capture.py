"""A task's WARNING/ERROR records are captured whatever the project's LOGGING says.

PRAHO-like configurations: a project logger at ERROR (or WARNING) with ``propagate = False``
and its own handler, or the root logger at CRITICAL. The records still reach quiet-failures,
the task's ``records`` and the run's log lines (secrets scrubbed), and a record the project's
levels would have dropped never reaches the project's own handlers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import pytest

from harness.scenario import LoadSpec, Scenario

pytestmark = pytest.mark.dbpath

TOKEN = "tok-7f3a9c1e55d2"  # a credential the task logs
START = dt.datetime(2026, 9, 15, 10, 0, tzinfo=dt.UTC)


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


def _scenario() -> Scenario:
    calls = "tests.fixture_apps.calls"
    return Scenario(
        name="strict-logging",
        start=START,
        duration=dt.timedelta(minutes=10),
        seed=4,
        loads=[
            LoadSpec(
                name="swallow",
                call=f"{calls}.enqueue_swallow",
                args=[1],
                at=[dt.timedelta(minutes=1)],
            ),
            LoadSpec(name="warn", call=f"{calls}.enqueue_warn", at=[dt.timedelta(minutes=2)]),
            LoadSpec(
                name="refuse",
                call=f"{calls}.enqueue_refuse",
                args=[TOKEN],
                at=[dt.timedelta(minutes=3)],
            ),
        ],
        expect={"secrets": {"values": [TOKEN]}},
    )


@pytest.fixture
def project_logging(request) -> Iterator[_Kept]:
    """The project's loggers as a strict LOGGING config leaves them (restored after)."""
    names = ["", "myproject.billing", "myproject.orders", "myproject.gateway"]
    saved = {n: (logging.getLogger(n).level, logging.getLogger(n).propagate) for n in names}
    own = _Kept()
    if request.param == "strict-loggers":
        for name in names[1:]:
            lg = logging.getLogger(name)
            lg.setLevel(logging.ERROR)
            lg.propagate = False
            lg.addHandler(own)
    else:  # the root at CRITICAL, every project logger inheriting it
        logging.getLogger().setLevel(logging.CRITICAL)
        logging.getLogger().addHandler(own)
    try:
        yield own
    finally:
        for n, (level, propagate) in saved.items():
            lg = logging.getLogger(n)
            lg.setLevel(level)
            lg.propagate = propagate
            lg.removeHandler(own)


@pytest.mark.parametrize("project_logging", ["strict-loggers", "root-critical"], indirect=True)
def test_task_records_are_captured_whatever_the_logging_config(run_scenario, project_logging):
    result = run_scenario(_scenario())
    verdict = result.verdict("quiet-failures")
    assert not verdict.ok
    said = " | ".join(p.message for p in verdict.problems)
    assert "auto-renewal failed: Cannot resolve keyword 'renewal'" in said
    assert "gateway refused token «secret:" in said and TOKEN not in said
    records = {
        e.data["func"].rsplit(".", 1)[1]: e.data.get("records")
        for e in result.timeline.of("task.logged")
    }
    assert records["warn_and_return"] == [
        ["WARNING", "myproject.orders", "Preflight validation failed: no price in RON"]
    ]
    assert records["swallow"][0][:2] == ["ERROR", "myproject.billing"]
    logs = result.record.snapshot.logs
    assert "WARNING myproject.orders: Preflight validation failed: no price in RON" in logs
    assert any(
        line.startswith("ERROR myproject.gateway: gateway refused token «secret:") for line in logs
    )
    assert not any(TOKEN in line for line in logs)
    leaks = {p.cause for p in result.verdict("secrets").problems}  # passed as an argument too
    assert any("log line" in cause for cause in leaks), leaks
    # what the project's levels drop still never reaches its own handlers
    assert not any("Preflight" in line for line in project_logging.lines)
