"""No lost jobs: every enqueued task completed, failed terminally, or is legitimately pending.

Judged from the timeline (acks and outcomes) and the broker table at the end, not from Task
rows (``save_limit`` prunes those). A task is *lost* when it is neither acknowledged nor still
in the broker (discarded, or its row vanished), and *stranded* when it waits in a queue that no
simulated cluster serves.
"""

from __future__ import annotations

from typing import Any

from harness.checkers import RunContext, Verdict, call_repr, limit

NAME = "lost-jobs"
DOC = "every enqueued task completed, failed terminally, or is legitimately pending at the end"


def options(r: Any) -> dict[str, Any]:
    return {}


def check(ctx: RunContext) -> Verdict:
    served = {spec.name for spec in ctx.clusters}
    lost, stranded = [], []
    done = failed = pending = 0
    tasks = ctx.history.enqueued()
    for tid, t in tasks.items():
        event = t.enqueued
        what = call_repr(event.data["func"], event.data.get("args"), event.data.get("kwargs"))
        label = f"{what} (task {tid[:8]}, enqueued {ctx.when(event.at)})"
        finished_ok = t.last_outcome == "ok"
        if tid in ctx.queued:
            queue = ctx.queued[tid].get("key") or event.data.get("queue")
            if queue not in served:
                stranded.append(f"{label} waits in queue {queue!r}, which no cluster serves")
            else:
                pending += 1
            continue
        if t.acked is not None or (ctx.broker != "orm" and t.last_outcome is not None):
            done += 1 if finished_ok else 0
            failed += 0 if finished_ok else 1
            continue
        if t.discarded is not None:
            lost.append(f"{label} discarded by the worker at {ctx.when(t.discarded)}")
        elif t.last is not None and t.last is not event:
            lost.append(
                f"{label} vanished after {t.last.kind} at {ctx.when(t.last.at)} "
                "(no ack, no broker row)"
            )
        else:
            lost.append(f"{label} never reached the broker")
    bad = lost + stranded
    total = len(tasks)
    if not bad:
        return Verdict(
            NAME,
            True,
            f"{total} tasks: {done} completed, {failed} failed terminally, {pending} pending",
        )
    first = bad[0]
    return Verdict(
        NAME,
        False,
        f"{len(lost)} lost and {len(stranded)} stranded of {total} tasks; first: {first}",
        limit(bad),
    )
