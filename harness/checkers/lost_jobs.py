"""No lost jobs: every enqueued task completed, failed terminally, or is legitimately pending.

Judged from the timeline (acks and outcomes) and the broker table at the end, not from Task
rows (``save_limit`` prunes those). A task is *lost* when it is neither acknowledged nor still
in the broker (discarded, or its row vanished), and *stranded* when it waits in a queue that no
simulated cluster serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.brokers import broker_kind
from harness.checkers import RunContext, Verdict, call_repr
from harness.checkers.problems import Problem

NAME = "lost-jobs"
DOC = "every enqueued task completed, failed terminally, or is legitimately pending at the end"


@dataclass(frozen=True)
class Options:
    """It has none."""


def options(r: Any) -> Options:
    return Options()


def check(ctx: RunContext) -> Verdict:
    served = {spec.name for spec in ctx.clusters}
    problems: list[Problem] = []
    fates = {"done": 0, "failed": 0, "pending": 0}
    tasks = ctx.history.enqueued()
    for t in tasks.values():
        fate = _fate(ctx, t, served)
        if isinstance(fate, Problem):
            problems.append(fate)
        else:
            fates[fate] += 1
    stranded = sum(p.rule == "stranded" for p in problems)
    total = len(tasks)
    first = problems[0].message if problems else ""
    return Verdict.of(
        NAME,
        problems,
        f"{total} tasks: {fates['done']} completed, {fates['failed']} failed terminally, "
        f"{fates['pending']} pending",
        f"{len(problems) - stranded} lost and {stranded} stranded of {total} tasks; first: {first}",
    )


def _fate(ctx: RunContext, t: Any, served: set[str | None]) -> str | Problem:
    """done | failed | pending, or the problem: lost (discarded, vanished, never queued) or
    stranded (waiting in a queue nobody serves)."""
    event = t.enqueued
    func = event.data["func"]
    what = call_repr(func, event.data.get("args"), event.data.get("kwargs"))
    label = f"{what} (task {t.id[:8]}, enqueued {ctx.when(event.at)})"
    if t.id in ctx.queued:
        queue = ctx.queued[t.id].get("key") or event.data.get("queue")
        if queue in served:
            return "pending"
        why = f"waits in queue {queue!r}, which no cluster serves"
        return Problem(NAME, "stranded", func, why, f"{label} {why}", event.at)
    at_most_once = not broker_kind(ctx.broker).acknowledges  # ran: done, whatever came of it
    if t.acked is not None or (at_most_once and t.last_outcome is not None):
        return "done" if t.last_outcome == "ok" else "failed"
    if t.discarded is not None:
        tail = f"discarded by the worker at {ctx.when(t.discarded)}"
        cause = "discarded by the worker"
        return Problem(NAME, "discarded", func, cause, f"{label} {tail}", t.discarded)
    if t.last is not None and t.last is not event:
        cause = f"vanished after {t.last.kind} (no ack, no broker row)"
        tail = f"vanished after {t.last.kind} at {ctx.when(t.last.at)} (no ack, no broker row)"
        return Problem(NAME, "vanished", func, cause, f"{label} {tail}", t.last.at)
    cause = "never reached the broker"
    return Problem(NAME, "never-queued", func, cause, f"{label} {cause}", event.at)
