"""No secret in stored results or logs.

The secrets are the settings the scenario names (``[expect.secrets] settings = [...]``),
literal ``values``, and the credentials given to the fakes; besides exact values, ``patterns``
(regular expressions, default: Stripe secret and webhook keys) catch secrets nobody listed.
Scanned: every Task row's result, args and kwargs, every captured log line (all levels), the
timeline, and the audit rows when an audit model is configured. Evidence never prints a secret.
"""

from __future__ import annotations

import re
from typing import Any

from harness.checkers import RunContext, Verdict, limit

NAME = "secrets"
DOC = "no configured secret (or secret-shaped string) in task results, logs or audit rows"
DEFAULT_PATTERNS = (r"\bsk_(?:live|test)_[A-Za-z0-9_]{6,}", r"\bwhsec_[A-Za-z0-9_]{6,}")


def options(r: Any) -> dict[str, Any]:
    settings = r.get("settings", list, default=[])
    values = r.get("values", list, default=[])
    patterns = r.get("patterns", list, default=list(DEFAULT_PATTERNS))
    for i, p in enumerate(patterns):
        try:
            re.compile(p)
        except (re.error, TypeError) as exc:
            r.fail(f"bad regular expression: {exc}", f"patterns[{i}]")
    return {"settings": settings, "values": values, "patterns": patterns}


def _sources(ctx: RunContext) -> list[tuple[str, str]]:
    out = []
    for tid, row in ctx.task_rows.items():
        out.append((f"task {tid[:8]} ({row.get('func')}) stored result/args", row.get("text", "")))
    for i, line in enumerate(ctx.logs):
        out.append((f"log line {i + 1}", line))
    out.append(("the timeline", ctx.timeline.dumps()))
    from harness.checkers.audit import audit_rows

    for row in audit_rows(ctx):
        out.append((f"audit row at {ctx.when(row['at'])}", row["text"]))
    return out


def check(ctx: RunContext) -> Verdict:
    patterns = [re.compile(p) for p in ctx.options(NAME).get("patterns", DEFAULT_PATTERNS)]
    evidence = []
    seen: set[tuple[str, str]] = set()
    for where, text in _sources(ctx):
        if not text:
            continue
        for label, value in ctx.secrets:
            if value and value in text and (label, where) not in seen:
                seen.add((label, where))
                evidence.append(f"{label} found in {where}")
        for pattern in patterns:
            if pattern.search(text) and (pattern.pattern, where) not in seen:
                seen.add((pattern.pattern, where))
                evidence.append(f"a string shaped like a secret ({pattern.pattern}) in {where}")
    scanned = f"{len(ctx.task_rows)} task rows, {len(ctx.logs)} log lines"
    if not evidence:
        return Verdict(NAME, True, f"{len(ctx.secrets)} secrets, none in {scanned} or the timeline")
    return Verdict(NAME, False, f"{len(evidence)} leaks; first: {evidence[0]}", limit(evidence))
