"""The driver's event queues: running attempts' virtual ends and injected arrivals.

Two heaps ordered by (instant, sequence): at one instant, what was scheduled first happens first,
so a run is a pure function of the scenario and the seed.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from harness.sim.cluster import ClusterState, Completion


class Agenda:
    """Completions (an attempt's result reaching the monitor) and arrivals (a call made at a
    virtual instant, e.g. a load's ``async_task``)."""

    def __init__(self) -> None:
        self._completions: list[tuple[datetime, int, Completion]] = []
        self._arrivals: list[tuple[datetime, int, Callable[[], Any]]] = []
        self._seq = itertools.count()

    def arrive(self, when: datetime, call: Callable[[], Any]) -> None:
        heapq.heappush(self._arrivals, (when, next(self._seq), call))

    def complete(self, when: datetime, done: Completion) -> None:
        heapq.heappush(self._completions, (when, next(self._seq), done))

    @property
    def running(self) -> bool:
        """Some attempt has not reached its end yet."""
        return bool(self._completions)

    def next_completion(self) -> datetime | None:
        return self._completions[0][0] if self._completions else None

    def next_arrival(self) -> datetime | None:
        return self._arrivals[0][0] if self._arrivals else None

    def completion_due(self, now: datetime) -> Completion | None:
        """The next completion at or before ``now``, removed (None: none is due)."""
        if self._completions and self._completions[0][0] <= now:
            return heapq.heappop(self._completions)[2]
        return None

    def arrival_due(self, now: datetime) -> Callable[[], Any] | None:
        """The next arrival at or before ``now``, removed (None: none is due)."""
        if self._arrivals and self._arrivals[0][0] <= now:
            return heapq.heappop(self._arrivals)[2]
        return None

    def take(self, c: ClusterState) -> list[Completion]:
        """Remove and return the attempts running on ``c`` (it went down: they are killed)."""
        kept, taken = [], []
        for item in self._completions:
            (taken if item[2].cluster is c else kept).append(item)
        heapq.heapify(kept)
        self._completions = kept
        return [item[2] for item in taken]  # heap order, as the timeline always had it
