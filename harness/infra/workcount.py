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
