"""What keeps a simulation honest when the code under test misbehaves.

* :func:`guard_db` — a failed statement inside a test transaction would poison every later
  query; a savepoint confines it, as autocommit confines it in a real worker.
* :func:`watchdog` — a call that never returns is stopped after a wall-clock budget.
* :func:`schedule_in` / :func:`why_cron_loops` — which schedule a stopped scheduler pass was
  working on, and why its next-run loop did not end.
* :class:`FindingCollector` — what django-q2 only logs (a failed pass, an unsaved result).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any


class WatchdogExpired(BaseException):
    """Raised by SIGALRM inside a stuck call; BaseException so django-q2's handlers miss it."""


@contextlib.contextmanager
def guard_db() -> Iterator[None]:
    """Inside a test transaction, run the block in a savepoint rolled back only on failure."""
    from django.db import connection, transaction

    if not connection.in_atomic_block:
        yield
        return
    sid = transaction.savepoint()
    try:
        yield
    finally:
        if in_error(connection):
            transaction.savepoint_rollback(sid)
        else:
            transaction.savepoint_commit(sid)


@contextlib.contextmanager
def watchdog(budget: float | None, what: str, **context: Any) -> Iterator[None]:
    """Stop the block with :class:`WatchdogExpired` after ``budget`` wall-clock seconds."""
    if not budget or threading.current_thread() is not threading.main_thread():
        yield
        return
    armed = [True]

    def expire(signum: int, frame: Any) -> None:
        if armed[0]:
            raise WatchdogExpired(what, context, budget)

    previous = signal.signal(signal.SIGALRM, expire)
    # Repeats every 0.5 s after the budget: an exception raised while Python runs a finalizer
    # or a GC callback is printed and dropped ("Exception ignored in ..."), so one signal is
    # not enough to stop a loop that allocates.
    signal.setitimer(signal.ITIMER_REAL, budget, 0.5)
    try:
        yield
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def watchdog_finding(exc: WatchdogExpired) -> dict[str, Any]:
    """What a watchdog stop reports: the stopped call, where it was, and for a scheduler pass
    the schedule whose next-run computation was running (read from django-q2's own frame)."""
    import traceback

    what, context, budget = exc.args
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    stack = " | ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in frames)
    data = {"stopped": what, "budget_seconds": budget, "stack": stack, **context}
    schedule = schedule_in(exc.__traceback__)
    if schedule is not None:
        data["schedule"] = schedule
    return data


def in_error(connection: Any) -> bool:
    raw = getattr(connection, "connection", None)
    if raw is None:
        return False
    import psycopg

    return raw.info.transaction_status == psycopg.pq.TransactionStatus.INERROR


def schedule_in(tb: Any) -> dict[str, Any] | None:
    """The Schedule row django-q2's ``scheduler()`` was processing when ``tb`` was raised."""
    from django_q.conf import Conf

    found = None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "scheduler" and frame.f_globals.get("__name__") == (
            "django_q.scheduler"
        ):
            found = frame.f_locals.get("s")
        tb = tb.tb_next
    if found is None:
        return None
    out = {
        "name": found.name or f"#{found.pk}",
        "func": found.func,
        "type": found.schedule_type,
        "cron": found.cron,
        "minutes": found.minutes,
        "next_run": found.next_run,
        "catch_up": bool(Conf.CATCH_UP),
    }
    why = why_cron_loops(found.cron) if found.schedule_type == "C" and found.cron else None
    if why:
        out["why"] = why
    return out


def why_cron_loops(cron: str) -> str | None:
    """Explain django-q2's endless catch-up loop for a CRON row, when that is the cause.

    The loop (``catch_up`` off) ends when ``calculate_next_run() > localtime()``, and a CRON
    row's next run is ``croniter(cron, localtime()).get_next()``. Both sides are aware
    datetimes of the same ``ZoneInfo``, and Python compares those by wall clock, ignoring the
    fold: in the first occurrence of a repeated hour croniter's answer can be at or before now
    on the wall clock (croniter 7: its match in the second occurrence, later in absolute time;
    croniter 6, in the hour's last minute: a match earlier in the first occurrence).
    """
    try:
        from croniter import croniter
        from django_q.utils import localtime

        now = localtime()
        answer = croniter(cron, now).get_next(datetime)
        fall = fall_back_after(now)
        then = croniter(cron, fall).get_next(datetime) if fall is not None else None
    except Exception:
        return None
    return explain_cron_loop(now, answer, fall, then)


def explain_cron_loop(
    now: datetime, answer: datetime, fall: datetime | None, then: datetime | None
) -> str | None:
    """The message for a loop whose croniter ``answer`` is not after ``now`` on the wall clock
    (None when it is, or when no fall-back follows). ``fall``: the instant the clock falls
    back; ``then``: croniter's answer from there, the ``next_run`` a real cluster ends with."""
    if answer > now or fall is None or then is None:
        return None
    side = "after" if answer.astimezone(UTC) > now.astimezone(UTC) else "before"
    spin = int((fall.astimezone(UTC) - now.astimezone(UTC)).total_seconds())
    minutes, seconds = divmod(spin, 60)
    took = f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    return (
        f"croniter answers {answer:%H:%M %Z}, {side} now ({now:%H:%M:%S %Z}) in absolute "
        "time, but django-q2 compares the two in one zone, where Python compares wall "
        f"clocks ({answer:%H:%M} is not after {now:%H:%M:%S}), so the loop never ends under a "
        f"stopped clock; a real cluster spins for {took}, until the clock falls back "
        f"({fall:%H:%M %Z}), and then sets next_run to {then:%Y-%m-%d %H:%M %Z}"
    )


def fall_back_after(now: datetime) -> datetime | None:
    """The instant the clock falls back, when ``now`` is in the first occurrence of a repeated
    hour (its wall time recurs later with a smaller offset); else None."""
    later = now.replace(fold=1)
    step = (now.utcoffset() or later.utcoffset()) and (now.utcoffset() - later.utcoffset())
    if not step or step.total_seconds() <= 0 or now.fold:
        return None
    low, high = now.astimezone(UTC), now.astimezone(UTC) + step  # offset changes in between
    while (high - low).total_seconds() > 1:
        mid = low + (high - low) / 2
        if mid.astimezone(now.tzinfo).utcoffset() == now.utcoffset():
            low = mid
        else:
            high = mid
    return high.replace(microsecond=0).astimezone(now.tzinfo)


def project_zone() -> Any:
    """The zone django-q2 computes local times in (``Conf.TIME_ZONE``), for messages."""
    from zoneinfo import ZoneInfo

    from django_q.conf import Conf

    try:
        return ZoneInfo(Conf.TIME_ZONE or "UTC")
    except Exception:
        return ZoneInfo("UTC")


def broker_hosts() -> list[str]:
    """Hosts the network guard lets through: the project's Redis broker, wherever it runs."""
    from urllib.parse import urlsplit

    from django_q.conf import Conf

    redis = getattr(Conf, "REDIS", None)
    if isinstance(redis, str):
        return [urlsplit(redis).hostname or ""]
    if isinstance(redis, dict):
        return [str(redis.get("host", ""))]
    return []


class FindingCollector(logging.Handler):
    """Turns what django-q2 only logs (a failed scheduler pass, an unsaved result) into findings."""

    MARKERS = (
        "Could not create task from schedule",
        "failed to create a task from schedule",
        "Could not save task result",
        "Failed to push task to queue",
        "Failed to pull task from broker",
    )

    def __init__(self, sink: Callable[[logging.LogRecord], None]) -> None:
        super().__init__(level=logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if any(marker in message for marker in self.MARKERS):
            self.sink(record)
