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
from typing import Any

from harness.checkers import RunContext, Verdict, call_repr, limit

NAME = "enqueue-contract"
DOC = "every enqueued dotted path resolves and its signature accepts the arguments"


def options(r: Any) -> dict[str, Any]:
    return {}


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


def _problem(func: str, args: list[Any], kwargs: dict[str, Any], cache: dict) -> str | None:
    if func not in cache:
        cache[func] = signature(cache["__recorded__"].get(func))
    sig = cache[func]
    if sig is None or isinstance(sig, str):
        return sig
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        return f"arguments rejected: {exc}"
    return None


def _schedule_arguments(row: dict[str, Any]) -> tuple[tuple, dict, str | None]:
    """``args`` and ``kwargs`` as django-q2's scheduler reads them, and what it cannot read."""
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
                why = f"kwargs {row['kwargs']!r} do not parse: django-q2 runs the task without them"
                return (), {}, why
    if row.get("args"):
        try:
            args = ast.literal_eval(row["args"])
        except (SyntaxError, ValueError):
            why = (
                f"args {row['args']!r} do not parse: every scheduler pass that reaches this "
                "row fails and rolls back"
            )
            return (), {}, why
        if type(args) is not tuple:
            args = (args,)
    kwargs = {k: v for k, v in dict(kwargs).items() if k != "q_options"}
    return args, kwargs, None


def _schedules(ctx: RunContext, cache: dict[str, Any]) -> list[str]:
    out = []
    for row in ctx.schedules:
        func = row.get("func") or ""
        if "." not in func:
            continue
        name = row.get("name") or f"#{row.get('id')}"
        args, kwargs, problem = _schedule_arguments(row)
        problem = problem or _problem(func, list(args), kwargs, cache)
        if problem:
            out.append(
                f"schedule {name!r} as setup left it at {ctx.when(ctx.start)}: "
                f"{call_repr(func, args, kwargs)}: {problem}"
            )
    return out


def check(ctx: RunContext) -> Verdict:
    cache: dict[str, Any] = {"__recorded__": ctx.signatures}
    evidence = _schedules(ctx, cache)
    count = 0
    for e in (t.enqueued for t in ctx.history.tasks.values() if t.enqueued is not None):
        func = e.data.get("func") or ""
        if "." not in func or func.startswith("<"):
            continue  # an enqueued callable: nothing to resolve
        count += 1
        args, kwargs = list(e.data.get("args") or []), dict(e.data.get("kwargs") or {})
        problem = _problem(func, args, kwargs, cache)
        if problem:
            evidence.append(
                f"{call_repr(func, args, kwargs)} enqueued at {ctx.when(e.at)} "
                f"(task {e.data['task'][:8]}): {problem}"
            )
    if not evidence:
        return Verdict(
            NAME,
            True,
            f"{count} enqueues and {len(ctx.schedules)} schedules, every path resolves and binds",
        )
    return Verdict(
        NAME, False, f"{len(evidence)} bad enqueues; first: {evidence[0]}", limit(evidence)
    )
