"""No duplicated external effect per business key, from the fakes' ledger.

An account created twice, a card charged twice for one invoice, a domain renewed twice for one
term: each is one ledger effect recorded more than once for the same (fake, effect, key).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from harness.checkers import RunContext, Verdict
from harness.checkers.problems import Problem

NAME = "duplicate-effects"
DOC = "no external effect happened twice for one business key (fakes' ledger)"
DEFAULT_ONCE = (
    "domain.created",
    "domain.deleted",
    "charge.succeeded",
    "refund.created",
    "customer.created",
    "domain.registered",
    "domain.renewed",
)


@dataclass(frozen=True)
class Options:
    once: tuple[str, ...] | None = None  # None: the defaults and every fake's declared ones


def options(r: Any) -> Options:
    once = r.get("once", list, default=None)
    if once is None:
        return Options()
    if not all(isinstance(x, str) for x in once):
        r.fail("a list of effect names", "once")
    return Options(tuple(once))


def once_effects(ctx: RunContext) -> set[str]:
    """The effects judged: ``once`` as the scenario names them; else the defaults and every
    effect a fake declared must happen once (a project's fake: ``route(..., once=True)``)."""
    named = ctx.options(NAME).once
    if named is not None:
        return set(named)
    assert ctx.ledger is not None
    return set(DEFAULT_ONCE) | {e.effect for e in ctx.ledger.entries() if e.detail.get("once")}


def _unkeyed_money(entries: list[Any], once: set[str]) -> str:
    """Money effects whose business key is not a business fact (no metadata key matched, so
    the key is the idempotency key or the created object's id): a second charge for the same
    invoice would carry another key and pass unseen. Said in the verdict, not hidden."""
    unkeyed = [
        e
        for e in entries
        if e.effect in once and e.detail.get("business_key_from") in ("idempotency_key", "none")
    ]
    if not unkeyed:
        return ""
    names = ", ".join(unkeyed[0].detail.get("business_key_metadata") or [])
    return (
        f"; but {len(unkeyed)} {unkeyed[0].effect} effects carried none of the metadata keys "
        f"({names}), so a duplicate per invoice/order would not show: name yours in "
        "fakes.payments.options.business_key_metadata"
    )


def check(ctx: RunContext) -> Verdict:
    if ctx.ledger is None:
        return Verdict(NAME, True, "no fakes mounted: nothing to check")
    once = once_effects(ctx)
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for entry in ctx.ledger.entries():
        if entry.effect in once and entry.business_key is not None:
            groups[(entry.fake, entry.effect, entry.business_key)].append(entry)
    problems = []
    for (fake, effect, key), entries in sorted(groups.items()):
        if len(entries) < 2:
            continue
        times = "; ".join(
            f"{ctx.when(e.at)} (task {(e.task_id or '-')[:8]} attempt {e.attempt}"
            + (f", {e.fault}" if e.fault else "")
            + ")"
            for e in entries
        )
        # The subject is the effect, not the business key: an invoice number is data (another
        # seed, another invoice), so every key charged twice is one more instance of one bug.
        message = f"{fake} {effect} for {key!r} happened {len(entries)}×: {times}"
        one_task = len({e.task_id for e in entries}) == 1 and entries[0].task_id is not None
        how = "by retries of one task" if one_task else "by more than one task"
        cause = f"happened more than once for one business key, {how}"
        subject = f"{fake} {effect}"
        problems.append(Problem(NAME, "duplicate", subject, cause, message, entries[1].at))
    counted = sum(len(v) for v in groups.values())
    blind = _unkeyed_money(ctx.ledger.entries(), once)
    first = problems[0].message if problems else ""
    return Verdict.of(
        NAME,
        problems,
        f"{counted} effects, each once per business key{blind}",
        f"{len(problems)} duplicated effects; first: {first}",
    )
