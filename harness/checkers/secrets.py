"""No secret in stored results or logs.

The secrets are the settings the scenario names (``[expect.secrets] settings = [...]``),
literal ``values``, and the credentials given to the fakes; besides exact values, ``patterns``
(regular expressions, default: Stripe secret and webhook keys) catch secrets nobody listed.
Scanned: every Task row's result, args and kwargs, every captured log line (all levels), the
timeline, and the audit rows when an audit model is configured. The runner replaces every
configured secret by its marker ``«secret:<label>»`` when it records these texts, so the run
record never holds a secret and this checker looks for markers; evidence never prints a secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.checkers import RunContext, Verdict
from harness.checkers.problems import Problem

NAME = "secrets"
DOC = "no configured secret (or secret-shaped string) in task results, logs or audit rows"
_MARKER = re.compile(r"«secret:([^»]+)»")  # where the runner found a configured secret
DEFAULT_PATTERNS = (r"\bsk_(?:live|test)_[A-Za-z0-9_]{6,}", r"\bwhsec_[A-Za-z0-9_]{6,}")


@dataclass(frozen=True)
class Options:
    setting_names: tuple[str, ...] = ()  # settings whose values are secrets
    values: tuple[str, ...] = ()  # literal secret values
    patterns: tuple[str, ...] = DEFAULT_PATTERNS  # secret-shaped strings nobody listed


def options(r: Any) -> Options:
    r.renamed("settings", "setting_names")  # the old spelling (harness.spellings)
    names = r.get("setting_names", list, default=[])
    values = r.get("values", list, default=[])
    patterns = r.get("patterns", list, default=list(DEFAULT_PATTERNS))
    for i, p in enumerate(patterns):
        try:
            re.compile(p)
        except (re.error, TypeError) as exc:
            r.fail(f"bad regular expression: {exc}", f"patterns[{i}]")
    return Options(tuple(names), tuple(str(v) for v in values), tuple(patterns))


def _sources(ctx: RunContext) -> list[tuple[str, str, str]]:
    """(where, what kind of place, text) of everything recorded that could carry a secret."""
    out = []
    for tid, row in ctx.task_rows.items():
        where = f"task {tid[:8]} ({row.get('func')}) stored result/args"
        out.append((where, f"stored results of {row.get('func')}", row.get("text", "")))
    for i, line in enumerate(ctx.logs):
        out.append((f"log line {i + 1}", "log lines", line))
    out.append(("the timeline", "the timeline", ctx.record.timeline_text()))
    for row in (ctx.audit or {}).get("rows", []):
        out.append((f"audit row at {ctx.when(row['at'])}", "audit rows", row["text"]))
    return out


def check(ctx: RunContext) -> Verdict:
    patterns = [re.compile(p) for p in ctx.options(NAME).patterns]
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for where, kind, text in _sources(ctx):
        if not text:
            continue
        for label in _MARKER.findall(text):
            if (label, where) not in seen:
                seen.add((label, where))
                message = f"{label} found in {where}"
                problems.append(Problem(NAME, "configured", label, f"in {kind}", message))
        for pattern in patterns:
            if pattern.search(text) and (pattern.pattern, where) not in seen:
                seen.add((pattern.pattern, where))
                message = f"a string shaped like a secret ({pattern.pattern}) in {where}"
                problems.append(Problem(NAME, "shaped", pattern.pattern, f"in {kind}", message))
    scanned = f"{len(ctx.task_rows)} task rows, {len(ctx.logs)} log lines"
    first = problems[0].message if problems else ""
    return Verdict.of(
        NAME,
        problems,
        f"{len(ctx.secrets)} secrets, none in {scanned} or the timeline",
        f"{len(problems)} leaks; first: {first}",
    )
