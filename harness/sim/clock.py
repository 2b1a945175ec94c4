"""One virtual clock behind ``timezone.now()``, ``time.time()`` and the harness's waits.

Two engines, because users' own tests use either:

* ``time-machine`` (default): patches ``time.time``/``time_ns``/``clock_gettime``/``localtime``/
  ``gmtime``/``strftime`` and ``datetime.now``/``utcnow`` at the C level; leaves
  ``time.monotonic`` and ``perf_counter`` real, so timeouts, the watchdog and benchmarks keep
  working. That is why it is the default: in speed the two engines are within noise of each other
  (``benchmarks/test_replay.py::test_clock_engine``: 2-day replay medians 1.9-2.4 s for both
  across three runs).
* ``freezegun``: also patches ``monotonic``/``perf_counter`` (except when called from
  threading/queue modules) and makes ``datetime.now()`` return ``FakeDatetime`` (which pickles
  into OrmQ payloads; harmless, psycopg adapts it).

Not virtualised, with either engine: ``SIGALRM`` timers (the harness never lets django-q2 arm
them; it models task timeouts in virtual time instead), PostgreSQL's own ``now()`` (django-q2
never uses it: every broker and scheduler comparison passes Python's ``timezone.now()``), socket
timeouts, and Redis TTLs. Sleeps are virtual while a simulation is open
(:mod:`harness.sim.scopes`): a call that sleeps sees its own time move on (:meth:`VirtualClock.
view`) and a task's sleeps become part of its virtual duration.

The clock never ticks by itself (``tick=False``): time moves only when the driver moves it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from harness.errors import HarnessError

Engine = Literal["time-machine", "freezegun"]
ENGINES: tuple[str, ...] = ("time-machine", "freezegun")
DEFAULT_ENGINE: Engine = "time-machine"


class ClockError(HarnessError, RuntimeError):
    """The virtual clock was used wrongly (not started, moved backwards, two at once)."""


class VirtualClock:
    """A stopped clock that only the harness moves.

    >>> clock = VirtualClock(datetime(2026, 3, 1, tzinfo=UTC))
    >>> with clock:
    ...     clock.advance(hours=1)
    """

    _active: VirtualClock | None = None

    def __init__(self, start: datetime, engine: Engine = DEFAULT_ENGINE) -> None:
        if start.tzinfo is None:
            raise ClockError(f"the start instant must be timezone-aware, got naive {start}")
        if engine not in ENGINES:
            raise ClockError(f"unknown clock engine {engine!r}; choose one of {', '.join(ENGINES)}")
        self.engine: Engine = engine
        self._now = start.astimezone(UTC)
        self._ctx: Any = None
        self._handle: Any = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> VirtualClock:
        if VirtualClock._active is not None:
            raise ClockError("another VirtualClock is already running in this process")
        if self.engine == "time-machine":
            import time_machine

            self._ctx = time_machine.travel(self._now, tick=False)
        else:
            import freezegun

            self._ctx = freezegun.freeze_time(self._now, tick=False)
        self._handle = self._ctx.start()
        VirtualClock._active = self
        return self

    def stop(self) -> None:
        if self._ctx is not None:
            self._ctx.stop()
        self._ctx = self._handle = None
        if VirtualClock._active is self:
            VirtualClock._active = None

    @property
    def running(self) -> bool:
        return self._ctx is not None

    def __enter__(self) -> VirtualClock:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reading and moving ------------------------------------------------------------------
    def now(self) -> datetime:
        """The virtual instant (aware, UTC). Cheap: no call into the patched libraries."""
        return self._now

    def move_to(self, when: datetime) -> None:
        """Jump to ``when``. Time never goes backwards: a timeline must stay ordered."""
        if when.tzinfo is None:
            raise ClockError(f"move_to needs an aware datetime, got naive {when}")
        when = when.astimezone(UTC)
        if when < self._now:
            raise ClockError(f"the virtual clock cannot go back from {self._now} to {when}")
        if when == self._now:
            return
        self._now = when
        if self._handle is None:
            return
        self._handle.move_to(when)  # both engines' handles offer move_to()

    def view(self, offset: float) -> None:
        """Show the code that runs now the virtual instant plus ``offset`` seconds (a call that
        slept sees its own time move on; ``0`` puts it back). The virtual instant itself, and
        every event recorded at it, stay where they are."""
        if self._handle is None:
            return
        self._handle.move_to(self._now + timedelta(seconds=offset) if offset else self._now)

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by ``delta`` or by keyword parts (``hours=2, minutes=5``)."""
        step = (delta or timedelta()) + timedelta(**parts)
        self.move_to(self._now + step)
        return self._now
