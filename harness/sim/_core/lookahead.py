"""When something can next happen: the driver's look-ahead, from the mirror of the broker
(:mod:`harness.sim._core.mirror`) or one database round trip a step (``--faithful``).

The next instant is the earliest of: a running attempt's end, an arrival, a cluster going down
or up, the first scheduler pass (on its cluster's 30 s grid) after the earliest due schedule,
and the instant the next broker row becomes visible (``lock + 1 µs``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harness.brokers import BrokerKind
from harness.sim._core.mirror import BrokerMirror
from harness.sim.cluster import EPS, ClusterState, owned_schedules


def probe(
    clusters: list[ClusterState], kind: BrokerKind, cap: int | None
) -> tuple[dict[int, datetime | None], datetime | None]:
    """One round trip: each cluster's earliest due schedule and the next OrmQ visibility.

    Raw SQL on purpose: this runs once per step, and the ORM's query compilation cost
    more than the query itself.
    """
    from django.db import connection
    from django_q.models import OrmQ, Schedule

    q = connection.ops.quote_name
    sched, ormq = q(Schedule._meta.db_table), q(OrmQ._meta.db_table)
    parts: list[str] = []
    params: list[Any] = []
    ids: list[int] = []
    for i, c in enumerate(clusters):
        if not (c.up and c.spec.scheduler):
            continue
        mine, mine_params = owned_schedules(c.name)
        parts.append(f"(SELECT min(next_run) FROM {sched} WHERE repeats <> 0 AND {mine})")
        params.extend(mine_params)
        ids.append(i)
    keys = sorted({c.broker.list_key for c in clusters if c.up and not c.hold})
    want_rows = kind.rows_in_sql and bool(keys)
    if want_rows:
        capped = " AND id <= %s" if cap is not None else ""
        # Visible rows a free pusher has not claimed yet count too (a drain cap was lifted).
        parts.append(f"(SELECT min(lock) FROM {ormq} WHERE key = ANY(%s){capped})")
        params.append(keys)
        if cap is not None:
            params.append(cap)
    if not parts:
        return {}, None
    with connection.cursor() as cur:
        cur.execute("SELECT " + ", ".join(parts), params)
        row = cur.fetchone()
    schedules = dict(zip(ids, row[: len(ids)], strict=True))
    return schedules, (row[-1] if want_rows else None)


@dataclass(frozen=True)
class Lookahead:
    """The next instant, the scheduler passes due by then, and what the probe saw of the
    broker: which clusters' queues it looked at and their earliest lock (None: no row); what
    that means for the first pull of the instant is :mod:`harness.sim._core.dry`'s."""

    at: datetime | None
    passes: dict[int, datetime]
    probed: frozenset[int]  # clusters whose queue the probe covered
    lock: datetime | None


def next_time(
    clusters: list[ClusterState],
    kind: BrokerKind,
    now: datetime,
    queued: Iterable[datetime | None],
    schedules: bool,
    cap: int | None,
    mirror: BrokerMirror | None = None,
) -> Lookahead:
    """The next instant something can happen (``queued``: the driver's next completion and
    arrival), and the scheduler passes due by then; from the ``mirror`` when there is one and
    it can answer, else from the database."""
    candidates: list[datetime] = []
    candidates.extend(t for t in queued if t is not None)
    candidates.extend(c.transitions[0][0] for c in clusters if c.transitions)
    known = mirror.answer(clusters, kind, cap) if mirror is not None else None
    earliest, lock = known if known is not None else probe(clusters, kind, cap)
    passes: dict[int, datetime] = {}
    if schedules:
        for i, due in earliest.items():
            if due is not None:
                c = clusters[i]
                # A pass at t fires rows with next_run < t (strict): it must come after due.
                passes[i] = c.grid_after(max(now, due + EPS), c.last_pass)
        candidates.extend(passes.values())
    if lock is not None:
        candidates.append(lock + EPS)
    elif not kind.rows_in_sql and any(
        c.up and not c.hold and c.broker.queue_size() for c in clusters
    ):
        candidates.append(now + EPS)
    at = max(min(candidates), now) if candidates else None
    probed = frozenset(
        i
        for i, c in enumerate(clusters)
        if kind.rows_in_sql
        and c.up
        and not c.hold
        and not (at is not None and c.transitions_due(at))
    )
    return Lookahead(at, passes, probed, lock)
