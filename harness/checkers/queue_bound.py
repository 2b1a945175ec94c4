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
from dataclasses import dataclass
from typing import Any

from harness.checkers import RunContext, Verdict, call_repr
from harness.checkers.problems import Problem

NAME = "queue-bound"
DOC = "claimed work per cluster within queue_limit + bulk + workers; backlog and wait bounded"


@dataclass(frozen=True)
class Options:
    max_depth: int | None = None
    max_wait: dt.timedelta | None = None


def options(r: Any) -> Options:
    depth = r.get("max_depth", int, default=None)
    if depth is not None and depth < 0:
        r.fail("must not be negative", "max_depth")
    return Options(depth, r.duration("max_wait", default=None))


def check(ctx: RunContext) -> Verdict:
    opts = ctx.options(NAME)
    max_depth, max_wait = opts.max_depth, opts.max_wait
    problems: list[Problem] = []
    reported: set[str] = set()
    for load in ctx.history.loads:
        cluster = load.event.data.get("cluster")
        spec = ctx.cluster_for_queue(cluster) if cluster is not None else None
        if spec is None:
            continue
        bound = spec.capacity + spec.bulk + spec.workers
        n_held, n_run = load.held.get(cluster, 0), load.running.get(cluster, 0)
        if n_held > bound and f"held:{cluster}" not in reported:
            reported.add(f"held:{cluster}")
            limits = f"queue_limit {spec.capacity} + bulk {spec.bulk} + workers {spec.workers}"
            message = f"cluster {cluster} held {n_held} tasks at {ctx.when(load.at)} ({limits})"
            cause = f"held more tasks than {limits}"
            problems.append(Problem(NAME, "over-claimed", cluster, cause, message, load.at))
        if n_run > spec.workers and f"run:{cluster}" not in reported:
            reported.add(f"run:{cluster}")
            message = (
                f"cluster {cluster} ran {n_run} tasks at once at {ctx.when(load.at)} "
                f"(workers {spec.workers})"
            )
            cause = f"ran more tasks at once than workers {spec.workers}"
            problems.append(Problem(NAME, "over-running", cluster, cause, message, load.at))
    peak_depth, peak_at = ctx.history.peak_waiting()
    if max_depth is not None and peak_depth > max_depth:
        message = (
            f"backlog reached {peak_depth} waiting tasks at {ctx.when(peak_at)} "
            f"(max_depth {max_depth})"
        )
        cause = f"backlog over max_depth {max_depth}"
        problems.append(Problem(NAME, "max-depth", "backlog", cause, message, peak_at))
    if max_wait is not None:
        problems.extend(_waits(ctx, max_wait))
    first = problems[0].message if problems else ""
    return Verdict.of(
        NAME,
        problems,
        f"within bounds; peak backlog {peak_depth} waiting tasks",
        f"{len(problems)} problems; first: {first}",
    )


def _waits(ctx: RunContext, max_wait: dt.timedelta) -> list[Problem]:
    out = []
    for tid, t in ctx.history.enqueued().items():
        event, started = t.enqueued, t.first_start
        waited = (started or ctx.end) - event.at
        if waited > max_wait and (started is not None or ctx.end - event.at > max_wait):
            func = event.data["func"]
            what = call_repr(func, event.data.get("args"), event.data.get("kwargs"))
            message = (
                f"{what} (task {tid[:8]}) enqueued {ctx.when(event.at)} waited {waited} to start"
                f"{'' if started else ' (still waiting at the end)'} (max_wait {max_wait})"
            )
            cause = f"waited longer than max_wait {max_wait} to start"
            out.append(Problem(NAME, "max-wait", func, cause, message, event.at))
    return out
