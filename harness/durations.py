"""The one duration grammar, for scenarios, fault plans, --until and the CLI.

``"30d"``, ``"2h30m"``, ``"2h 30m"``, ``"90s"``, ``"1.5s"``, ``"250ms"``, or a number of
seconds (int or float). Never negative, never NaN or infinite. A leaf module: the fakes use it
too, and they import nothing else of the harness.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

_DURATION = re.compile(
    r"^\s*(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m(?!s))?\s*"
    r"(?:(?P<s>\d+(?:\.\d+)?)\s*s)?\s*(?:(?P<ms>\d+(?:\.\d+)?)\s*ms)?\s*$"
)
EXAMPLES = "'30d', '2h30m', '90s', '1.5s' or '250ms'"
MAX = timedelta(days=36_500)
"""The longest duration the grammar accepts (100 years): anything a run can mean, and no
arithmetic on it can leave Python's datetime range (a start before 9900 is required)."""


def parse_duration(value: Any) -> timedelta | None:
    """A duration from text or a number of seconds; ``None`` when it is not one (or is longer
    than :data:`MAX`: :func:`too_long` tells which)."""
    try:
        found = _parse(value)
    except (OverflowError, ValueError):
        return None
    return found if found is not None and found <= MAX else None


def too_long(value: Any) -> bool:
    """``value`` is written as a duration but is longer than :data:`MAX`."""
    try:
        found = _parse(value)
    except (OverflowError, ValueError):
        return True  # well formed (the pattern matched) but beyond any timedelta
    return found is not None and found > MAX


def _parse(value: Any) -> timedelta | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            return None
        return timedelta(seconds=value)
    if not isinstance(value, str):
        return None
    m = _DURATION.match(value)
    if not m or not any(m.groupdict().values()):
        return None
    g = m.groupdict()
    return timedelta(
        days=int(g["d"] or 0),
        hours=int(g["h"] or 0),
        minutes=int(g["m"] or 0),
        seconds=float(g["s"] or 0),
        milliseconds=float(g["ms"] or 0),
    )


def format_duration(value: timedelta) -> str:
    """The grammar's own spelling of ``value`` (``"30d"``, ``"1d12h"``, ``"45m"``, ``"1.5s"``):
    what a user would write in a scenario, so a listing reads back as input."""
    micros = round(value.total_seconds() * 1_000_000)
    if micros <= 0:
        return "0s"
    days, micros = divmod(micros, 86_400_000_000)
    hours, micros = divmod(micros, 3_600_000_000)
    minutes, micros = divmod(micros, 60_000_000)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    if micros:
        seconds = f"{micros / 1_000_000:.6f}".rstrip("0").rstrip(".")
        parts.append(f"{seconds}s")
    return "".join(parts)
