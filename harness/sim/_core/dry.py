"""Dry pulls: when a pusher's claim would find nothing, and so is not made.

A pull that claims nothing changes no row, so repeating it in the same state is an empty round
trip. Within one instant rows become visible only by an enqueue or an adoption (time and a
drain's cap stand still), so "the same state" is the key (now, enqueues, adopted rows, cap).
A cluster's first pull of an instant is known dry when the look-ahead's probe covered its queue
and saw no row visible by then; a later one when a short batch (fewer than asked for) said so.
This module is the one place that knows it: the driver starts each instant here, the pusher
asks before each claim and reports each short batch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from harness.sim._core.lookahead import Lookahead
from harness.sim.cluster import ClusterState

Key = tuple[Any, ...]


class DryPulls:
    """What can make rows visible within an instant, and which clusters' pulls are dry."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self.enqueues = 0
        self.adopted = 0
        self.last_enqueue: datetime | None = None  # rows enqueued then are visible 1 µs later
        self._dry: dict[ClusterState, Key | None] = {}

    def enqueued(self) -> None:
        """A task was enqueued now: pulls at this instant may find it."""
        self.enqueues += 1
        self.last_enqueue = self._now()

    def became_visible(self, rows: int) -> None:
        """``rows`` broker rows became visible now without an enqueue (adopted)."""
        self.last_enqueue = self._now()
        self.adopted += rows

    def key(self, cap: int | None) -> Key:
        return (self._now(), self.enqueues, self.adopted, cap)

    def begin(self, clusters: list[ClusterState], ahead: Lookahead, cap: int | None) -> None:
        """A new instant: a cluster's first pull is dry when the probe covered its queue and
        no row there is visible at this instant (only an enqueue since can change that)."""
        for i, c in enumerate(clusters):
            covered = i in ahead.probed
            visible = ahead.lock is not None and ahead.at is not None and ahead.lock < ahead.at
            self._dry[c] = self.key(cap) if covered and not visible else None

    def is_dry(self, c: ClusterState, cap: int | None) -> bool:
        """A pull by ``c`` now would find nothing (nothing was enqueued since one did)."""
        return self._dry.get(c) == self.key(cap)

    def found_nothing_more(self, c: ClusterState, cap: int | None) -> None:
        """A short batch: nothing else is visible to ``c`` in this state."""
        self._dry[c] = self.key(cap)
