"""Counted work: SQL statements, rows read and Python calls over a block of code.

Wall-clock time on a shared 2-core machine spreads by 13–34 % from run to run, so a speed gate
on seconds either cries wolf or sleeps through a real regression. These counters are the same
on every run of the same code and seed, so a gate on them can use a tolerance of a few percent
(``benchmarks/report.py compare``): one extra query per task moves ``statements`` by a whole
unit per task, whatever the machine is doing.

* ``statements``: every statement Django's ``default`` connection executes (an
  ``execute_wrapper``; a batch ``executemany`` counts once).
* ``rows``: rows those statements returned (``cursor.rowcount`` of result-returning
  statements; a server-side cursor reports none and counts 0).
* ``calls``: Python function calls in this thread (``cProfile``'s counts, C-level and cheap),
  minus psycopg's own frames, whose count depends on how the network answered, not on our code.
  Keep ``PYTHONHASHSEED`` fixed (``make bench`` sets 0): set iteration order changes paths.

Count a round that follows a warm-up round: first calls fill caches (imports, compiled
queries) that later rounds do not pay.
"""

from __future__ import annotations

import cProfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_EXCLUDED_DIRS: tuple[str, ...] = ()


def _excluded() -> tuple[str, ...]:
    """Directories whose frames are not counted as calls (psycopg's Python layer)."""
    global _EXCLUDED_DIRS
    if not _EXCLUDED_DIRS:
        import psycopg

        _EXCLUDED_DIRS = (str(Path(psycopg.__file__).parent),)
    return _EXCLUDED_DIRS


@dataclass
class Work:
    """What a block of code did, counted."""

    statements: int = 0
    rows: int = 0
    calls: int = 0

    def per(self, units: int) -> dict[str, float]:
        """Each counter divided by ``units`` (tasks), rounded for a stable JSON."""
        return {k: round(v / units, 3) for k, v in asdict(self).items()} if units else {}


@contextmanager
def counting(*, calls: bool = True, using: str = "default") -> Iterator[Work]:
    """Count the work done inside the block (``calls=False``: SQL only, no profiler)."""
    from django.db import connections

    work = Work()

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        work.statements += 1
        cursor = context["cursor"]
        if cursor.description is not None:
            work.rows += max(cursor.rowcount, 0)
        return result

    profiler = cProfile.Profile(builtins=False) if calls else None
    with connections[using].execute_wrapper(wrapper):
        if profiler is not None:
            profiler.enable()
        try:
            yield work
        finally:
            if profiler is not None:
                profiler.disable()
                work.calls = python_calls(profiler)


def python_calls(profiler: cProfile.Profile) -> int:
    """Calls of Python functions a profiler saw, psycopg's excluded."""
    skip = _excluded()
    total = 0
    for entry in profiler.getstats():
        code = entry.code
        if isinstance(code, str) or code.co_filename.startswith(skip):
            continue
        total += entry.callcount
    return total


ORIGINS = ("project", "django-q2", "driver")
"""Who issued a statement: the project's code (task bodies, receivers, loads, views), django-q2
(its own code, and the harness's drop-in replacements of it: the deterministic broker and the
accelerations), or the rest of the harness (the driver's look-ahead, adoption, lock model)."""

_DJANGO_Q2_STANDINS = ("harness/sim/broker.py", "harness/sim/accelerate.py")


@dataclass
class Origins:
    """Statements counted by who issued them (:data:`ORIGINS`)."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def per(self, units: int) -> dict[str, float]:
        return {k: round(v / units, 3) for k, v in self.counts.items()} if units else {}


def _skipped_dirs() -> tuple[str, ...]:
    """Frames that only carry a statement (Django, psycopg, the standard library)."""
    import sysconfig

    import django

    return (
        str(Path(django.__file__).parent) + "/",
        *_excluded(),
        sysconfig.get_paths()["stdlib"] + "/",
    )


@contextmanager
def statement_origins(using: str = "default") -> Iterator[Origins]:
    """Count the statements of the block by who issued them: the innermost frame outside
    Django, psycopg and the standard library decides (cheap: one answer per code object)."""
    import sys

    from django.db import connections

    skip = _skipped_dirs()
    harness_dir = str(Path(__file__).resolve().parents[1]) + "/"
    verdict: dict[Any, str | None] = {}  # code object → origin, None: a carrier frame
    origins = Origins(dict.fromkeys(ORIGINS, 0))

    def classify(code: Any) -> str | None:
        name = code.co_filename
        if name.startswith(skip):
            return None
        if "/django_q/" in name or name.endswith(_DJANGO_Q2_STANDINS):
            return "django-q2"
        if name.startswith(harness_dir):
            return "driver"
        return "project"

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        frame: Any = sys._getframe(1)
        origin = "project"
        while frame is not None:
            code = frame.f_code
            found = verdict[code] if code in verdict else verdict.setdefault(code, classify(code))
            if found is not None:
                origin = found
                break
            frame = frame.f_back
        origins.counts[origin] += 1
        return execute(sql, params, many, context)

    with connections[using].execute_wrapper(wrapper):
        yield origins
