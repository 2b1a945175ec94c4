"""No duplicated external effect per business key, from the fakes' ledger.

An account created twice, a card charged twice for one invoice, a domain renewed twice for one
term: each is one ledger effect recorded more than once for the same (fake, effect, key).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from harness.checkers import RunContext, Verdict, limit

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


def options(r: Any) -> dict[str, Any]:
    once = r.get("once", list, default=list(DEFAULT_ONCE))
    if not all(isinstance(x, str) for x in once):
        r.fail("a list of effect names", "once")
    return {"once": once}


def check(ctx: RunContext) -> Verdict:
    if ctx.ledger is None:
        return Verdict(NAME, True, "no fakes mounted: nothing to check")
    once = set(ctx.options(NAME).get("once", DEFAULT_ONCE))
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for entry in ctx.ledger.entries():
        if entry.effect in once and entry.business_key is not None:
            groups[(entry.fake, entry.effect, entry.business_key)].append(entry)
    evidence = []
    for (fake, effect, key), entries in sorted(groups.items()):
        if len(entries) < 2:
            continue
        times = "; ".join(
            f"{ctx.when(e.at)} (task {(e.task_id or '-')[:8]} attempt {e.attempt}"
            + (f", {e.fault}" if e.fault else "")
            + ")"
            for e in entries
        )
        evidence.append(f"{fake} {effect} for {key!r} happened {len(entries)}×: {times}")
    counted = sum(len(v) for v in groups.values())
    if not evidence:
        return Verdict(NAME, True, f"{counted} effects, each once per business key")
    return Verdict(
        NAME, False, f"{len(evidence)} duplicated effects; first: {evidence[0]}", limit(evidence)
    )
