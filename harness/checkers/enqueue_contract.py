"""The enqueue contract: every enqueued path resolves and accepts its arguments.

``async_task`` forwards unknown keyword arguments to the task (PRAHO's ``schedule=`` and
``retry=`` bugs), and a wrong dotted path only fails in the worker. Both are visible at enqueue
time: ``import_string(func)`` and ``inspect.signature(func).bind(*args, **kwargs)`` — done by
the runner at the end of the run (the snapshot's signatures), so the check itself reads only
what was recorded.

Schedules are checked the same way as setup left them (the snapshot), not at their first fire,
which may lie beyond the window: their ``args``/``kwargs`` are parsed as django-q2's scheduler
parses them (``ast.literal_eval``; keyword syntax for kwargs).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from harness.checkers import RunContext, Verdict, call_repr
from harness.checkers.problems import Problem, steady

NAME = "enqueue-contract"
DOC = "every enqueued dotted path resolves and its signature accepts the arguments"


@dataclass(frozen=True)
class Options:
    """It has none."""


def options(r: Any) -> Options:
    return Options()


def signature(recorded: Any) -> inspect.Signature | str | None:
    """A recorded signature (``harness.run.snapshot.signature_of``) back as an
    ``inspect.Signature``; a string is why the path does not resolve; None: unknown."""
    if recorded is None or isinstance(recorded, str):
        return recorded
    return inspect.Signature(
        [
            inspect.Parameter(
                name,
                getattr(inspect.Parameter, kind),
                default=None if has_default else inspect.Parameter.empty,
            )
            for name, kind, has_default in recorded
        ]
    )


def _rejected(
    func: str, args: list[Any], kwargs: dict[str, Any], cache: dict
) -> tuple[str, str, str] | None:
    """(rule, cause, what to say) when ``func`` does not resolve or rejects the arguments;
    the cause is the reason without what varies per call (ids, numbers, times)."""
    if func not in cache:
        cache[func] = signature(cache["__recorded__"].get(func))
    sig = cache[func]
    if sig is None:
        return None
    if isinstance(sig, str):
        return "path-unresolved", steady(sig), sig
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        return "arguments-rejected", steady(str(exc)), f"arguments rejected: {exc}"
    return None


def _schedule_arguments(row: dict[str, Any]) -> tuple[tuple, dict, tuple[str, str, str] | None]:
    """``args`` and ``kwargs`` as django-q2's scheduler reads them, and (rule, cause, what to
    say) when it cannot read them."""
    import ast

    args: Any = ()
    kwargs: dict[str, Any] = {}
    if row.get("kwargs"):
        try:
            kwargs = ast.literal_eval(row["kwargs"])
        except (SyntaxError, ValueError):
            try:
                call = ast.parse(f"f({row['kwargs']})").body[0].value  # type: ignore[attr-defined]
                kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
            except (SyntaxError, ValueError):
                cause = "kwargs do not parse: django-q2 runs the task without them"
                why = f"kwargs {row['kwargs']!r} do not parse: django-q2 runs the task without them"
                return (), {}, ("schedule-kwargs-unparsable", cause, why)
    if row.get("args"):
        try:
            args = ast.literal_eval(row["args"])
        except (SyntaxError, ValueError):
            cause = "args do not parse: every scheduler pass that reaches the row fails"
            why = (
                f"args {row['args']!r} do not parse: every scheduler pass that reaches this "
                "row fails and rolls back"
            )
            return (), {}, ("schedule-args-unparsable", cause, why)
        if type(args) is not tuple:
            args = (args,)
    kwargs = {k: v for k, v in dict(kwargs).items() if k != "q_options"}
    return args, kwargs, None


def _schedules(ctx: RunContext, cache: dict[str, Any]) -> list[Problem]:
    """Each schedule as setup left it; its subject is the schedule's name (an unnamed row: its
    function), since the row is what to fix."""
    out = []
    for row in ctx.schedules:
        func = row.get("func") or ""
        if "." not in func:
            continue
        name = row.get("name") or f"#{row.get('id')}"
        args, kwargs, problem = _schedule_arguments(row)
        problem = problem or _rejected(func, list(args), kwargs, cache)
        if problem:
            rule, cause, why = problem
            named = row.get("name")
            subject = f"schedule {named}" if named else f"unnamed schedule of {func}"
            message = (
                f"schedule {name!r} as setup left it at {ctx.when(ctx.start)}: "
                f"{call_repr(func, args, kwargs)}: {why}"
            )
            out.append(Problem(NAME, rule, subject, cause, message, ctx.start))
    return out


def check(ctx: RunContext) -> Verdict:
    cache: dict[str, Any] = {"__recorded__": ctx.signatures}
    problems = _schedules(ctx, cache)
    count = 0
    for e in (t.enqueued for t in ctx.history.tasks.values() if t.enqueued is not None):
        func = e.data.get("func") or ""
        if "." not in func or func.startswith("<"):
            continue  # an enqueued callable: nothing to resolve
        count += 1
        args, kwargs = list(e.data.get("args") or []), dict(e.data.get("kwargs") or {})
        problem = _rejected(func, args, kwargs, cache)
        if problem:
            # One fingerprint per function and reason, however many calls: PRAHO's schedule=
            # bug is one problem, not 126 lines.
            rule, cause, why = problem
            message = (
                f"{call_repr(func, args, kwargs)} enqueued at {ctx.when(e.at)} "
                f"(task {e.data['task'][:8]}): {why}"
            )
            problems.append(Problem(NAME, rule, func, cause, message, e.at))
    first = problems[0].message if problems else ""
    return Verdict.of(
        NAME,
        problems,
        f"{count} enqueues and {len(ctx.schedules)} schedules, every path resolves and binds",
        f"{len(problems)} bad enqueues; first: {first}",
    )
