"""Task metrics: bounds on queue wait, duration and failure rate, per function glob or tenant.

Without options it reports the run's worst p95 queue wait and holds. With rules it holds only
when each is met::

    [expect.task-metrics."apps.billing.*"]     # a glob of task functions
    p95_wait = "60s"                           # also max_wait, p50_wait
    p95_duration = "30s"                       # also max_duration
    max_failure_rate = 0.2                     # failed runs / runs

    [expect.task-metrics."apps.provisioning.*"]
    max_wait = "5m"
    per = "group"                              # each django-q2 group (a tenant) on its own
    ignore_groups = ["customer-1"]             # globs of groups the bound does not cover

A rule that matches no task fails: a bound on nothing is a typo, not a pass. The figures are
:mod:`harness.record.metrics`' (nearest-rank percentiles, virtual seconds).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass, field
from typing import Any

from harness.checkers import RunContext, Verdict
from harness.checkers.problems import Problem
from harness.record.metrics import Metrics, by_function, matching

NAME = "task-metrics"
DOC = "queue wait, duration and failure rate per task function (or tenant) within bounds"

_WAITS = {"p50_wait": 50, "p95_wait": 95, "max_wait": 100}
_DURATIONS = {"p95_duration": 95, "max_duration": 100}


@dataclass(frozen=True)
class Options:
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # glob → its bounds


def options(r: Any) -> Options:
    rules = {}
    for pattern in list(r.data):
        t = r.table(pattern)
        rule: dict[str, Any] = {}
        for key in (*_WAITS, *_DURATIONS):
            value = t.duration(key)
            if value is not None:
                rule[key] = value
        rate = t.get("max_failure_rate", (int, float), default=None)
        if rate is not None and not 0 <= rate <= 1:
            t.fail("must be between 0 and 1", "max_failure_rate")
        if rate is not None:
            rule["max_failure_rate"] = float(rate)
        per = t.get("per", str, default=None)
        if per not in (None, "group"):
            t.fail(f"{per!r}: the only grouping is 'group' (django-q2's task group)", "per")
        ignore = t.get("ignore_groups", list, default=[])
        if ignore and per is None:
            t.fail("needs per = 'group'", "ignore_groups")
        if not rule:
            t.fail("no bound given (p50_wait, p95_wait, max_wait, p95_duration, ...)")
        t.done()
        rule.update(per=per, ignore_groups=[str(g) for g in ignore])
        rules[pattern] = rule
    return Options(rules)


def check(ctx: RunContext) -> Verdict:
    rules = ctx.options(NAME).rules
    if not rules:
        return Verdict(NAME, True, _summary(by_function(ctx.history, ctx.end)))
    problems: list[Problem] = []
    held: list[str] = []
    for pattern, rule in rules.items():
        groups = matching(ctx.history, ctx.end, pattern, per_group=rule["per"] == "group")
        groups = {
            g: m
            for g, m in groups.items()
            if not any(fnmatch.fnmatchcase(str(g), ig) for ig in rule["ignore_groups"])
        }
        if not groups:
            message = f"{pattern}: no task matched (check the glob and the groups)"
            cause = "no task matched the glob (and its groups)"
            problems.append(Problem(NAME, "rule-matches-nothing", pattern, cause, message))
            continue
        before = len(problems)
        for group, metrics in sorted(groups.items(), key=lambda kv: str(kv[0])):
            problems.extend(_violations(pattern, group, metrics, rule))
        if len(problems) == before:
            held.append(_held(pattern, groups, rule))
    first = problems[0].message if problems else ""
    return Verdict.of(
        NAME, problems, "; ".join(held), f"{len(problems)} bounds missed; first: {first}"
    )


def _violations(pattern: str, group: str | None, m: Metrics, rule: dict[str, Any]) -> list[Problem]:
    """The bounds ``m`` misses. The subject is the rule's glob, which the project wrote; a group
    (a tenant) is data that changes with the seed and the setup, so it is in the message and
    the cause only says the bound is per group."""
    label = pattern if group is None else f"{pattern}, group {group}"
    each = "" if group is None else " in a group"
    out = []

    def missed(key: str, what: str, message: str) -> None:
        out.append(Problem(NAME, key.replace("_", "-"), pattern, what + each, message))

    for key, p in _WAITS.items():
        bound, value = rule.get(key), m.wait(p)
        if bound is not None and value is not None and value > bound.total_seconds():
            extra = f", {m.still_waiting} still waiting at the end" if m.still_waiting else ""
            text = f"{label}: {key} {_secs(value)} > {_secs(bound)} ({m.tasks} tasks{extra})"
            missed(key, f"{key} over {_secs(bound)}", text)
    for key, p in _DURATIONS.items():
        bound, value = rule.get(key), m.duration(p)
        if bound is not None and value is not None and value > bound.total_seconds():
            text = f"{label}: {key} {_secs(value)} > {_secs(bound)} ({m.runs} runs)"
            missed(key, f"{key} over {_secs(bound)}", text)
    rate = rule.get("max_failure_rate")
    if rate is not None and m.failure_rate > rate:
        text = (
            f"{label}: failure rate {m.failure_rate:.0%} > {rate:.0%} "
            f"({m.failures} of {m.runs} runs)"
        )
        missed("max_failure_rate", f"failure rate over {rate:.0%}", text)
    return out


def _held(pattern: str, groups: dict[str | None, Metrics], rule: dict[str, Any]) -> str:
    """What a rule that held measured: the worst group's figure for its first wait bound."""
    key = next((k for k in (*_WAITS, *_DURATIONS) if k in rule), None)
    if key is None:
        worst = max(groups.values(), key=lambda m: m.failure_rate)
        return f"{pattern}: failure rate {worst.failure_rate:.0%}"
    p = {**_WAITS, **_DURATIONS}[key]
    figure = (lambda m: m.wait(p)) if key in _WAITS else (lambda m: m.duration(p))
    worst_group, worst = max(groups.items(), key=lambda kv: figure(kv[1]) or 0.0)
    tasks = sum(m.tasks for m in groups.values())
    where = "" if worst_group is None else f" (worst: group {worst_group} of {len(groups)})"
    return (
        f"{pattern}: {key} {_secs(figure(worst) or 0.0)} ≤ {_secs(rule[key])}, {tasks} tasks{where}"
    )


def _summary(per_func: dict[str, Metrics]) -> str:
    if not per_func:
        return "no tasks"
    func, m = max(per_func.items(), key=lambda kv: kv[1].wait(95) or 0.0)
    return (
        f"{len(per_func)} task functions; worst p95 queue wait {_secs(m.wait(95) or 0.0)} "
        f"({func.rsplit('.', 1)[-1]})"
    )


def _secs(value: float | dt.timedelta) -> str:
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else value
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
