"""Which configurations a run measures: a small default grid, or the full one.

The default grid changes one knob at a time around the reference platform's ``Q_CLUSTER``
(PRAHO: ORM broker, ``workers 2, bulk 10, queue_limit 100, save_limit 1000``), so each row of the
summary answers one question ("would 4 workers help?"). The full grid is the cross product.
Select with ``--bench-grid=full`` or ``BENCH_GRID=full``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

GRIDS = ("default", "full")


@dataclass(frozen=True)
class ClusterConfig:
    """One qcluster configuration under test."""

    broker: str  # "orm" or "redis"
    workers: int
    bulk: int
    queue_limit: int
    save_limit: int

    @property
    def id(self) -> str:
        return f"{self.broker}-w{self.workers}-b{self.bulk}-q{self.queue_limit}-s{self.save_limit}"

    def q_cluster(self, name: str, redis_url: str) -> dict[str, Any]:
        """``HARNESS_Q_CLUSTER`` overrides for this configuration."""
        broker: dict[str, Any] = (
            {"orm": "default", "redis": None}
            if self.broker == "orm"
            else {"orm": None, "redis": redis_url}
        )
        return {
            "name": name,
            "workers": self.workers,
            "bulk": self.bulk,
            "queue_limit": self.queue_limit,
            "save_limit": self.save_limit,
            **broker,
        }


REFERENCE = ClusterConfig("orm", workers=2, bulk=10, queue_limit=100, save_limit=1000)
"""The reference platform's Q_CLUSTER (config/settings/base.py), ORM broker."""


def drain_grid(kind: str) -> list[ClusterConfig]:
    """Configurations for the saturation (backlog drain) benchmark."""
    _check(kind)
    if kind == "full":
        return [
            ClusterConfig(b, w, k, q, s)
            for b, w, k, q, s in itertools.product(
                ("orm", "redis"), (1, 2, 4), (1, 10), (10, 100), (0, 1000)
            )
        ]
    ref = REFERENCE
    return [
        ref,
        replace(ref, workers=4),
        replace(ref, bulk=1),
        replace(ref, queue_limit=10),
        replace(ref, save_limit=0),
        replace(ref, broker="redis"),
        replace(ref, broker="redis", save_limit=0),
    ]


def latency_grid(kind: str) -> list[ClusterConfig]:
    """Configurations for the paced (below saturation) latency benchmark."""
    _check(kind)
    ref = REFERENCE
    base = [ref, replace(ref, save_limit=0), replace(ref, broker="redis")]
    if kind == "full":
        base += [replace(ref, workers=4), replace(ref, bulk=1)]
    return base


def floor_grid(kind: str) -> list[tuple[int, int]]:
    """(consumers, batch) pairs for the SKIP LOCKED floor."""
    _check(kind)
    pairs = [(1, 1), (2, 1), (4, 1), (2, 10)]
    if kind == "full":
        pairs += [(1, 10), (4, 10), (8, 1)]
    return pairs


def _check(kind: str) -> None:
    if kind not in GRIDS:
        raise ValueError(f"unknown benchmark grid {kind!r}; choose one of {', '.join(GRIDS)}")
