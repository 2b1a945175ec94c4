"""What project code does inside a call besides returning: it sleeps, it logs, it blocks.

The driver runs project code at virtual instants — a task body (``worker()``), a load arrival, a
setup step — each inside a :class:`Scope`. While a simulation is open:

* ``time.sleep`` and ``asyncio.sleep`` (and every module's own ``from time import sleep``)
  return at once in the simulation's thread and in any scope. Inside a scope the call's *view* of
  time moves on by what it slept (``time.time``, ``datetime.now``, ``timezone.now``: the clock
  engine is moved, the simulation's clock stays at the call's instant, and the view is put back
  when the call returns), and ``time.monotonic`` moves on by every virtual sleep of the run (so a
  ``deadline = monotonic() + 30`` retry loop ends as it would, and never goes backwards). A
  task's virtual duration is its configured duration plus what it slept, so timeouts and the
  broker's retry window see the sleeps as production does. Without this a 0.5·2^n s backoff
  sleeps for real: a week of PRAHO spent most of its wall time asleep, and in virtual time those
  tasks took no time at all.
* every log record at WARNING or above, from any logger but django-q2's own (a task's failure
  is its outcome), is kept for the scope: a task that catches its exception, logs it and returns
  ``{"success": False}`` is a success to django-q2 and nothing else would see it. This does not
  depend on the project's LOGGING: inside a scope such a record is made even when the logger's
  level (an ERROR-level logger's WARNING, a root at CRITICAL), ``logging.disable`` or a
  disabled logger would drop it; it is kept (and reaches the run's captured log lines) but not
  the project's handlers, which see exactly what its configuration lets through;
* the wall time the call spent neither on the CPU nor in the database — a socket wait, a lock, a
  sleep nobody could intercept — is measured (:attr:`Scope.blocked`).

Other threads (a fake served over real HTTP, a test's helper thread) sleep for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from harness.patching import Patches

LEVEL = logging.WARNING
"""Records at this level or above are kept for the scope they happen in."""
KEPT_RECORDS = 5
"""Records kept per scope (every record is counted; the first few are kept as text)."""
MESSAGE_CHARS = 300
_OWN_LOGGERS = ("django-q",)  # django-q2's: a task's failure is its outcome, not a log finding
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_SKIP_SCAN = ("harness", "_pytest", "pytest", "pluggy", "time_machine", "freezegun")

_REAL_SLEEP = time.sleep
_REAL_ASYNC_SLEEP = asyncio.sleep
_REAL_MONOTONIC = time.monotonic
_REAL_MONOTONIC_NS = time.monotonic_ns


@dataclass(frozen=True)
class LogLine:
    """One kept log record: level name, logger name, first line of the message."""

    level: str
    logger: str
    message: str

    def as_list(self) -> list[str]:
        return [self.level, self.logger, self.message]


@dataclass
class Scope:
    """One call of project code: what it slept, logged and spent blocked."""

    kind: str  # task | load | setup | startup
    slept: float = 0.0
    sleeps: int = 0
    records: list[LogLine] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # level name → records
    db: float = 0.0  # wall seconds inside database calls
    wall: float = 0.0
    cpu: float = 0.0

    @property
    def blocked(self) -> float:
        """Wall seconds neither on this thread's CPU nor in the database."""
        return max(0.0, self.wall - self.cpu - self.db)

    def keep(self, record: logging.LogRecord) -> None:
        level = record.levelname
        self.counts[level] = self.counts.get(level, 0) + 1
        if len(self.records) < KEPT_RECORDS:
            self.records.append(LogLine(level, record.name, _message(record)))

    @property
    def first_error(self) -> LogLine | None:
        return next((r for r in self.records if r.level in ("ERROR", "CRITICAL")), None)


current_scope: ContextVar[Scope | None] = ContextVar("harness_scope", default=None)


def _message(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except Exception:  # a broken format string in someone's log call
        text = str(record.msg)
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        text += f" ({type(exc).__name__}: {exc})"
    line = _ADDRESS.sub("", " ".join(text.split()))  # an object's address changes every run
    return line[:MESSAGE_CHARS]


class CallObserver:
    """The patches behind scopes, for one open simulation (undone by :meth:`uninstall`).

    ``view`` is how a call's view of time is moved: ``view(seconds)`` shows the code that runs
    now the simulation's instant plus ``seconds`` (the clock engine only; ``0`` puts it back).
    """

    def __init__(self, view: Callable[[float], None]) -> None:
        self.view = view
        self.owner = threading.get_ident()
        self.monotonic_offset = 0.0  # every virtual sleep of the run, in seconds
        self.patches = Patches()
        self._wrappers: list[Any] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def install(self) -> None:
        reason = "virtual sleep: no real waiting in a simulation; a call's sleeps become its time"
        self.patches.set(time, "sleep", self._sleep, reason)
        for module, name in _bound_references(_REAL_SLEEP):
            self.patches.set(module, name, self._sleep, reason + f" ({module.__name__}.{name})")
        self.patches.set(asyncio, "sleep", self._async_sleep, reason)
        self.patches.set(asyncio.tasks, "sleep", self._async_sleep, reason)
        mono = "monotonic time moves on by every virtual sleep (deadline loops end as they would)"
        self.patches.set(time, "monotonic", self._monotonic, mono)
        self.patches.set(time, "monotonic_ns", self._monotonic_ns, mono)
        self.patches.set(
            logging.Logger,
            "isEnabledFor",
            _enabling(logging.Logger.isEnabledFor),
            "WARNING+ records of a call are made whatever the project's levels say",
        )
        self.patches.set(
            logging.Logger,
            "handle",
            _keeping(logging.Logger.handle),
            "keep WARNING+ records of a task, load or setup call (attributed to it)",
        )
        self.patches.set(
            logging.Logger,
            "callHandlers",
            _project_handlers(logging.Logger.callHandlers),
            "a record made only for the harness never reaches the project's handlers",
        )
        from django.db import connections

        for alias in connections:
            wrapper = connections[alias].execute_wrapper(_timed_sql)
            wrapper.__enter__()
            self._wrappers.append(wrapper)

    def uninstall(self) -> None:
        while self._wrappers:
            self._wrappers.pop().__exit__(None, None, None)
        self.patches.undo()

    # -- scopes ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def scope(self, kind: str) -> Iterator[Scope]:
        """Run a call of project code as one scope; its view of time is put back after it."""
        outer = current_scope.get()
        s = Scope(kind)
        token = current_scope.set(s)
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield s
        finally:
            s.wall = time.perf_counter() - wall
            s.cpu = time.thread_time() - cpu
            current_scope.reset(token)
            if s.slept:
                self.view(outer.slept if outer is not None else 0.0)

    # -- the patched functions ---------------------------------------------------------------
    def _virtual(self) -> bool:
        return current_scope.get() is not None or threading.get_ident() == self.owner

    def _account(self, seconds: Any) -> None:
        seconds = float(seconds)
        if math.isnan(seconds) or seconds < 0:
            raise ValueError("sleep length must be non-negative")
        if math.isinf(seconds):
            raise OverflowError("sleep length is too large")
        if not seconds:
            return
        self.monotonic_offset += seconds
        scope = current_scope.get()
        if scope is not None:
            scope.slept += seconds
            scope.sleeps += 1
            self.view(scope.slept)

    def _sleep(self, seconds: float) -> None:
        if not self._virtual():
            _REAL_SLEEP(seconds)
            return
        self._account(seconds)

    async def _async_sleep(self, delay: float, result: Any = None) -> Any:
        if not self._virtual():
            return await _REAL_ASYNC_SLEEP(delay, result)
        self._account(delay)
        await _REAL_ASYNC_SLEEP(0)
        return result

    def _monotonic(self) -> float:
        return _REAL_MONOTONIC() + self.monotonic_offset

    def _monotonic_ns(self) -> int:
        return _REAL_MONOTONIC_NS() + int(self.monotonic_offset * 1e9)


_forced: ContextVar[tuple[int, int] | None] = ContextVar("harness_forced_log", default=None)
"""(id of the logger, level) that ``isEnabledFor`` said yes to only for the harness."""
_HARNESS_ONLY = "_harness_only"  # set on such a record: the project's handlers never see it


def _wanted(logger: logging.Logger, level: int) -> bool:
    return (
        current_scope.get() is not None
        and level >= LEVEL
        and not logger.name.startswith(_OWN_LOGGERS)
    )


def _enabling(original: Callable[[logging.Logger, int], bool]) -> Callable[..., bool]:
    """``isEnabledFor`` that says yes to a WARNING+ record inside a scope even when the
    project's levels (or ``logging.disable``) say no, and remembers that it did."""

    def is_enabled_for(self: logging.Logger, level: int) -> bool:
        if original(self, level):
            return True
        if not _wanted(self, level):
            return False
        _forced.set((id(self), level))
        return True

    is_enabled_for.__wrapped__ = original  # type: ignore[attr-defined]
    return is_enabled_for


def _keeping(original: Callable[[logging.Logger, logging.LogRecord], Any]) -> Callable[..., Any]:
    def handle(self: logging.Logger, record: logging.LogRecord) -> Any:
        if _forced.get() is not None:
            if _forced.get() == (id(self), record.levelno):
                setattr(record, _HARNESS_ONLY, True)
            _forced.set(None)
        if _wanted(self, record.levelno) and not record.name.startswith(_OWN_LOGGERS):
            current_scope.get().keep(record)  # type: ignore[union-attr]
        return original(self, record)

    handle.__wrapped__ = original  # type: ignore[attr-defined]
    return handle


def _project_handlers(
    original: Callable[[logging.Logger, logging.LogRecord], Any],
) -> Callable[..., Any]:
    def call_handlers(self: logging.Logger, record: logging.LogRecord) -> Any:
        if getattr(record, _HARNESS_ONLY, False):
            return None
        return original(self, record)

    call_handlers.__wrapped__ = original  # type: ignore[attr-defined]
    return call_handlers


def _timed_sql(execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any) -> Any:
    scope = current_scope.get()
    if scope is None:
        return execute(sql, params, many, ctx)
    start = time.perf_counter()
    try:
        return execute(sql, params, many, ctx)
    finally:
        scope.db += time.perf_counter() - start


def _bound_references(target: Any) -> list[tuple[Any, str]]:
    """Module attributes bound to ``target`` (``from time import sleep``), outside the standard
    library and the harness's own tooling, so project and library code sleeps virtually too."""
    stdlib = sys.stdlib_module_names
    found = []
    for name, module in list(sys.modules.items()):
        top = name.partition(".")[0]
        if module is None or top in stdlib or top in _SKIP_SCAN:
            continue
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            if value is target:
                found.append((module, attr))
    return found
