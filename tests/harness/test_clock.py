"""The virtual clock: both engines move timezone.now() and time.time() together, never back."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from harness.sim.clock import ClockError, VirtualClock

START = datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize("engine", ["time-machine", "freezegun"])
def test_engines_move_wall_clock_readers_together(engine: str) -> None:
    with VirtualClock(START, engine) as clock:
        assert timezone.now() == START
        clock.advance(hours=2, microseconds=1)
        assert timezone.now() == START + timedelta(hours=2, microseconds=1)
        assert time.time() == pytest.approx((START + timedelta(hours=2)).timestamp(), abs=1e-3)
        before = timezone.now()
        assert timezone.now() == before  # tick=False: time only moves when we move it
    assert abs(timezone.now() - datetime.now(UTC)) < timedelta(seconds=5)  # stopped cleanly


def test_time_machine_leaves_monotonic_real() -> None:
    with VirtualClock(START):
        a = time.monotonic()
        time.sleep(0.01)
        assert time.monotonic() > a


def test_misuse_is_a_clear_error() -> None:
    with pytest.raises(ClockError, match="timezone-aware"):
        VirtualClock(datetime(2026, 1, 1))
    with pytest.raises(ClockError, match="unknown clock engine 'sundial'"):
        VirtualClock(START, "sundial")  # type: ignore[arg-type]
    with VirtualClock(START) as clock:
        with pytest.raises(ClockError, match="cannot go back"):
            clock.move_to(START - timedelta(seconds=1))
        with pytest.raises(ClockError, match="already running"):
            VirtualClock(START).start()


def test_a_simulation_starts_in_utc_and_refuses_a_naive_start() -> None:
    from zoneinfo import ZoneInfo

    from harness.sim.simulation import Simulation

    local = datetime(2026, 3, 29, 2, 59, 59, tzinfo=ZoneInfo("Europe/Bucharest"))  # EET
    sim = Simulation(local)
    assert sim.start == START and sim.start.tzinfo is UTC and sim.clock.now() == START
    with pytest.raises(ClockError, match="timezone-aware"):
        Simulation(datetime(2026, 1, 1))
