"""What calls reported beyond raising: error-shaped results and load arrivals by outcome.

Projects often report failure in a return value instead of an exception — ``{"success": False}``,
``{"ok": False}``, ``{"error": ...}``, a ``Result`` object — and log a warning. django-q2 records
such a task as a success; a load callable that does it never gets past its own preflight, and a
replay that only counted exceptions would judge far less than it claims. This module says which
recorded values are error-shaped (:class:`Shapes`) and tallies load arrivals by outcome
(:func:`load_tallies`) for the ``load-outcomes`` checker, the summary and the report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.record.timeline import LOAD_CALLED, Event

ANY = "*"
"""A shape value meaning: the key is present and its value is not empty, null, false or 0."""

DEFAULT_SHAPES: tuple[dict[str, Any], ...] = ({"success": False}, {"ok": False}, {"error": ANY})


@dataclass(frozen=True)
class Shapes:
    """Mappings whose keys all match (``shapes``) and regular expressions over the text of
    other values (``patterns``, e.g. ``^Err\\(`` for a Result type's repr)."""

    shapes: tuple[dict[str, Any], ...] = DEFAULT_SHAPES
    patterns: tuple[str, ...] = ()

    def match(self, value: Any) -> str | None:
        """The shape or pattern ``value`` matches (as text for messages), or None."""
        if isinstance(value, dict):
            for shape in self.shapes:
                if shape and all(_matches(value, k, v) for k, v in shape.items()):
                    return "{" + ", ".join(f"{k}: {v!r}" for k, v in shape.items()) + "}"
            return None
        if value is None:
            return None
        text = value if isinstance(value, str) else repr(value)
        for pattern in self.patterns:
            if re.search(pattern, text):
                return f"/{pattern}/"
        return None


def _matches(value: dict[str, Any], key: str, expected: Any) -> bool:
    if key not in value:
        return False
    if expected == ANY:
        return value[key] not in (None, False, 0, "", [], {})
    if isinstance(expected, bool) or isinstance(value[key], bool):
        return value[key] is expected
    return bool(value[key] == expected)


@dataclass
class LoadTally:
    """One load's arrivals by outcome, and the first of each kind of trouble (local time)."""

    name: str
    call: str = ""
    arrivals: int = 0
    returned: int = 0
    raised: int = 0
    error_results: int = 0
    warned: int = 0  # arrivals that logged at WARNING or above
    first_error: Event | None = None
    first_warning: Event | None = None
    errors: list[Event] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.raised + self.error_results


def load_tallies(events: Iterable[Event], shapes: Shapes) -> dict[str, LoadTally]:
    """Every load's tally, in the order loads first arrived."""
    out: dict[str, LoadTally] = {}
    for e in events:
        if e.kind != LOAD_CALLED:
            continue
        tally = out.setdefault(e.data["load"], LoadTally(e.data["load"], e.data.get("call", "")))
        tally.arrivals += 1
        outcome = e.data.get("outcome")
        if outcome == "raised":
            tally.raised += 1
            tally.errors.append(e)
        elif outcome == "returned" and shapes.match(e.data.get("returned")) is not None:
            tally.error_results += 1
            tally.errors.append(e)
        elif outcome == "returned":
            tally.returned += 1
        if tally.first_error is None and tally.errors:
            tally.first_error = tally.errors[0]
        if e.data.get("logged"):
            tally.warned += 1
            if tally.first_warning is None:
                tally.first_warning = e
    return out


def first_record(e: Event) -> str:
    """The first kept log record of a call, as ``LEVEL logger: message``."""
    records = e.data.get("records") or []
    if not records:
        return ""
    level, logger, message = records[0]
    return f"{level} {logger}: {message}"
