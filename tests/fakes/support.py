"""Test helpers: a settable virtual clock and a way to reach a fake over either transport."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import responses

from harness.fakes.transport import mount_responses, serve

ORIGIN = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TRANSPORTS = ("responses", "werkzeug")


class Clock:
    """A virtual clock the tests move by hand."""

    def __init__(self, start: datetime = ORIGIN) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


@contextmanager
def reach(transport: str, app: Any, base_url: str = "https://fake.example.test") -> Iterator[str]:
    """Yield a base URL at which ``app`` answers, in-process or over a real socket."""
    if transport == "responses":
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            mount_responses(rsps, base_url, app)
            yield base_url
    else:
        with serve(app, hold_seconds=0.3) as served:
            yield served.url
