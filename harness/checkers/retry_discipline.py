"""Retry discipline: bounded retries, no overlapping runs, no blind resend of an UNKNOWN outcome.

* **bounded**: no task runs more than ``max_attempts`` times (default: the cluster's
  ``max_attempts``, else 5), and no task is left failing with ``max_attempts = 0`` and
  ``ack_failures = false`` (django-q2 would redeliver it every ``retry`` seconds forever);
* **no overlap**: a task is not started again while an earlier attempt still runs (the broker's
  ``retry`` is shorter than the task's duration: a duplicate execution);
* **UNKNOWN not blindly retried**: after a mutating call whose outcome the client could not
  know (no response, or 5xx), the next identical mutation for the same business key must be
  preceded by a read (reconcile) or reuse the same idempotency key;
* **Retry-After respected**: after a 429 the same call does not come back before it said.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from harness.checkers import RunContext, Verdict, call_repr, enqueued_calls
from harness.checkers.problems import Problem

NAME = "retry-discipline"
DOC = "retries bounded, never overlapping, UNKNOWN outcomes reconciled, Retry-After respected"
MUTATIONS = {
    "virtualmin": {"create-domain", "delete-domain", "disable-domain", "enable-domain"},
    "payments": {
        "payment_intent.create",
        "refund.create",
        "customer.create",
        "payment_method.attach",
    },
    "registrar": {"domain.register", "domain.renew"},
}
FOREVER_AFTER = 3  # consecutive failed attempts, still queued, with unlimited redelivery
FALLBACK_BOUND = 5  # attempts allowed when neither the scenario nor the cluster sets a bound


@dataclass(frozen=True)
class Options:
    max_attempts: int | None = None  # None: the cluster's own


def options(r: Any) -> Options:
    bound = r.get("max_attempts", int, default=None)
    if bound is not None and bound < 1:
        r.fail("must be at least 1", "max_attempts")
    return Options(bound)


def _task_checks(ctx: RunContext, problems: list[Problem]) -> int:
    enq = enqueued_calls(ctx)
    for t, attempt in ctx.history.attempts():  # in start order
        if attempt.overlapped is None:
            continue
        since = next(a.started for a in t.attempts if a.number == attempt.overlapped)
        spec = ctx.cluster_for_queue(attempt.cluster)
        retry = f"retry {spec.retry} s" if spec else "retry"
        message = (
            f"{_label(enq, t)}: attempt {attempt.number} started at {ctx.when(attempt.started)} "
            f"while attempt {attempt.overlapped} (started {ctx.when(since)}) was still running "
            f"({retry} is shorter than the task's run time)"
        )
        cause = "started again while an earlier attempt still ran (retry shorter than run time)"
        problems.append(Problem(NAME, "overlap", _func(t), cause, message, attempt.started))
    ran = [t for t in ctx.history.tasks.values() if t.attempts]
    default_bound = ctx.options(NAME).max_attempts
    for t in sorted(ran, key=lambda t: t.attempts[0].seq):
        found = _bounded(ctx, t, enq, default_bound)
        if found is not None:
            problems.append(found)
    return len(ran)


def _bounded(
    ctx: RunContext, t: Any, enq: dict[str, Any], default_bound: int | None
) -> Problem | None:
    """Attempts within the configured bound; with unlimited redelivery, not failing forever.
    Each task is one instance; the subject is its function, so one bug that fails every task
    of a function is one problem however many tasks and attempts it touched."""
    attempts = t.attempts
    spec = ctx.cluster_for_queue(t.cluster)
    configured = default_bound or (spec.max_attempts if spec and spec.max_attempts else None)
    forever = spec is not None and spec.max_attempts == 0 and not spec.ack_failures
    outcomes = t.outcomes
    failures = [o for o in outcomes if o != "ok"]
    tail = outcomes[-FOREVER_AFTER:]
    if configured is not None and len(attempts) > configured:
        times = ", ".join(ctx.when(a.started) for a in attempts[: configured + 1])
        message = f"{_label(enq, t)} ran {len(attempts)} times (max_attempts {configured}): {times}"
        cause = "ran more times than max_attempts allows"
        at = attempts[configured].started  # the first attempt over the bound
        return Problem(NAME, "over-max-attempts", _func(t), cause, message, at)
    still = t.id in ctx.queued
    endless = (still and len(tail) == FOREVER_AFTER and "ok" not in tail) or (
        configured is None and len(attempts) > FALLBACK_BOUND and "ok" not in outcomes
    )
    if forever and endless:
        # No bound anywhere: the question is not "how many" but "does it ever stop".
        where = "stays queued" if still else "was still being redelivered"
        message = (
            f"{_label(enq, t)} failed {len(failures)} times (first at "
            f"{ctx.when(attempts[0].started)}, last at {ctx.when(attempts[-1].started)}) and "
            f"{where}: max_attempts=0 and ack_failures=False redeliver it every {spec.retry} s "
            "forever"
        )
        cause = "keeps failing and is redelivered forever (max_attempts=0, ack_failures=False)"
        return Problem(NAME, "redelivered-forever", _func(t), cause, message, attempts[0].started)
    if configured is None and not forever and len(attempts) > FALLBACK_BOUND:
        times = ", ".join(ctx.when(a.started) for a in attempts[: FALLBACK_BOUND + 1])
        message = (
            f"{_label(enq, t)} ran {len(attempts)} times (no max_attempts set; the checker's "
            f"default bound {FALLBACK_BOUND}): {times}"
        )
        cause = "ran more times than the checker's default bound (no max_attempts set)"
        at = attempts[FALLBACK_BOUND].started
        return Problem(NAME, "over-max-attempts", _func(t), cause, message, at)
    return None


def _func(t: Any) -> str:
    return t.func or "?"


def _label(enq: dict[str, Any], t: Any) -> str:
    e = enq.get(t.id)
    if e is None:
        return f"{call_repr(t.func, None, None)} (task {t.id[:8]})"
    return (
        f"{call_repr(e.data.get('func'), e.data.get('args'), e.data.get('kwargs'))} "
        f"(task {t.id[:8]})"
    )


def _ledger_checks(ctx: RunContext, problems: list[Problem]) -> None:
    """Blind resends after an unknown outcome, and retries before a 429's Retry-After. The
    subject is the fake's operation; the business key is data, so it stays in the message."""
    if ctx.ledger is None:
        return
    unknown: dict[tuple[str, str, str], Any] = {}  # (fake, op, key) → the unknown-outcome entry
    rate_limited: dict[tuple[str, str, str | None], tuple[Any, int]] = {}
    for entry in ctx.ledger.entries():
        key = entry.business_key
        mutations = MUTATIONS.get(entry.fake, set())
        if entry.operation not in mutations:
            if entry.operation != "webhook.send":  # a read reconciles what it covers
                for k in [
                    k for k in unknown if k[0] == entry.fake and (key is None or k[2] == key)
                ]:
                    del unknown[k]
        elif key is not None:
            slot = (entry.fake, entry.operation, key)
            earlier = unknown.get(slot)
            if earlier is not None and not _same_idempotency_key(earlier, entry):
                problems.append(_blind_resend(ctx, entry, earlier))
            if entry.status == 0 or entry.status >= 500:
                unknown[slot] = entry
            else:
                unknown.pop(slot, None)
        rl_slot = (entry.fake, entry.operation, key)
        if rl_slot in rate_limited:
            prev, wait = rate_limited.pop(rl_slot)
            if entry.at < prev.at + dt.timedelta(seconds=wait):
                message = (
                    f"{entry.fake} {entry.operation} for {key!r} retried at {ctx.when(entry.at)}, "
                    f"before the Retry-After of {wait} s given at {ctx.when(prev.at)}"
                )
                subject, cause = f"{entry.fake} {entry.operation}", "retried before a Retry-After"
                problems.append(
                    Problem(NAME, "retry-after-ignored", subject, cause, message, entry.at)
                )
        if entry.status == 429:
            rate_limited[rl_slot] = (entry, _retry_after(ctx, entry))


def _same_idempotency_key(earlier: Any, entry: Any) -> bool:
    key = earlier.detail.get("idempotency_key")
    return key is not None and key == entry.detail.get("idempotency_key")


def _blind_resend(ctx: RunContext, entry: Any, earlier: Any) -> Problem:
    message = (
        f"{entry.fake} {entry.operation} for {entry.business_key!r} resent at "
        f"{ctx.when(entry.at)} "
        f"(task {(entry.task_id or '-')[:8]}) after an unknown outcome at "
        f"{ctx.when(earlier.at)} ({earlier.fault or earlier.status}) without "
        "reading the state first or reusing the idempotency key"
    )
    cause = "resent after an unknown outcome without a read or the same idempotency key"
    subject = f"{entry.fake} {entry.operation}"
    return Problem(NAME, "blind-resend", subject, cause, message, entry.at)


def _retry_after(ctx: RunContext, entry: Any) -> int:
    """The Retry-After (s) the fault rule behind a 429 gave (0 when no rule says)."""
    rule = entry.detail.get("fault_rule")
    rules = ctx.fault_rules
    return int(rules[rule].get("retry_after", 1) if rule is not None and rule < len(rules) else 0)


def check(ctx: RunContext) -> Verdict:
    problems: list[Problem] = []
    tasks = _task_checks(ctx, problems)
    _ledger_checks(ctx, problems)
    first = problems[0].message if problems else ""
    return Verdict.of(
        NAME,
        problems,
        f"{tasks} tasks: retries bounded, no overlap, no blind resend",
        f"{len(problems)} problems; first: {first}",
    )
