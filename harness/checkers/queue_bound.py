"""Queue bound: a cluster never holds more than it may, and the backlog stays within limits.

* per cluster, tasks claimed but not finished (in the pusher's hand, the in-memory queue and
  the worker slots) never exceed ``queue_limit + bulk + workers``, and running tasks never
  exceed ``workers``;
* optional ``[expect.queue-bound]``: ``max_depth`` (tasks enqueued and not yet started,
  in the broker or a cluster's in-memory queue, at any instant) and ``max_wait``
  (enqueue → first start).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from harness.checkers import RunContext, Verdict, call_repr, enqueued_calls, limit

NAME = "queue-bound"
DOC = "claimed work per cluster within queue_limit + bulk + workers; backlog and wait bounded"


def options(r: Any) -> dict[str, Any]:
    depth = r.get("max_depth", int, default=None)
    if depth is not None and depth < 0:
        r.fail("must not be negative", "max_depth")
    return {"max_depth": depth, "max_wait": r.duration("max_wait", default=None)}


def check(ctx: RunContext) -> Verdict:
    opts = ctx.options(NAME)
    max_depth, max_wait = opts.get("max_depth"), opts.get("max_wait")
    evidence: list[str] = []
    held: dict[str, set[str]] = {}
    running: dict[str, set[str]] = {}
    waiting: set[str] = set()
    peak_depth, peak_at = 0, None
    reported: set[str] = set()
    enq = enqueued_calls(ctx.timeline)
    first_start: dict[str, dt.datetime] = {}
    for e in ctx.timeline:
        tid, cluster = e.data.get("task"), e.data.get("cluster")
        if e.kind == "task.enqueued":
            waiting.add(tid)
            if len(waiting) > peak_depth:
                peak_depth, peak_at = len(waiting), e.at
        elif e.kind == "task.rolledback":
            waiting.discard(tid)
            continue
        elif e.kind == "task.claimed":
            held.setdefault(cluster, set()).add(tid)
        elif e.kind == "task.started":
            waiting.discard(tid)
            running.setdefault(cluster, set()).add(tid)
            first_start.setdefault(tid, e.at)
        elif e.kind in ("task.finished", "task.killed"):
            held.get(cluster, set()).discard(tid)
            running.get(cluster, set()).discard(tid)
        elif e.kind == "cluster.down":
            held[cluster] = set()
            running[cluster] = set()
        else:
            continue
        if cluster is None:
            continue
        spec = ctx.cluster_for_queue(cluster)
        if spec is None:
            continue
        bound = spec.capacity + spec.bulk + spec.workers
        n_held, n_run = len(held.get(cluster, ())), len(running.get(cluster, ()))
        if n_held > bound and f"held:{cluster}" not in reported:
            reported.add(f"held:{cluster}")
            evidence.append(
                f"cluster {cluster} held {n_held} tasks at {ctx.when(e.at)} "
                f"(bound queue_limit {spec.capacity} + bulk {spec.bulk} + workers {spec.workers})"
            )
        if n_run > spec.workers and f"run:{cluster}" not in reported:
            reported.add(f"run:{cluster}")
            evidence.append(
                f"cluster {cluster} ran {n_run} tasks at once at {ctx.when(e.at)} "
                f"(workers {spec.workers})"
            )
    if max_depth is not None and peak_depth > max_depth:
        evidence.append(
            f"backlog reached {peak_depth} waiting tasks at {ctx.when(peak_at)} "
            f"(max_depth {max_depth})"
        )
    if max_wait is not None:
        for tid, event in enq.items():
            started = first_start.get(tid)
            waited = (started or ctx.end) - event.at
            if waited > max_wait and (started is not None or ctx.end - event.at > max_wait):
                what = call_repr(
                    event.data["func"], event.data.get("args"), event.data.get("kwargs")
                )
                evidence.append(
                    f"{what} (task {tid[:8]}) enqueued {ctx.when(event.at)} waited "
                    f"{waited} to start{'' if started else ' (still waiting at the end)'}"
                    f" (max_wait {max_wait})"
                )
    if not evidence:
        return Verdict(NAME, True, f"within bounds; peak backlog {peak_depth} waiting tasks")
    return Verdict(NAME, False, f"{len(evidence)} problems; first: {evidence[0]}", limit(evidence))
