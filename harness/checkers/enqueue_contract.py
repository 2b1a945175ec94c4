"""The enqueue contract: every enqueued path resolves and accepts its arguments.

``async_task`` forwards unknown keyword arguments to the task (PRAHO's ``schedule=`` and
``retry=`` bugs), and a wrong dotted path only fails in the worker. Both are visible at enqueue
time: ``import_string(func)`` and ``inspect.signature(func).bind(*args, **kwargs)``.
"""

from __future__ import annotations

import inspect
from typing import Any

from harness.checkers import RunContext, Verdict, call_repr, limit

NAME = "enqueue-contract"
DOC = "every enqueued dotted path resolves and its signature accepts the arguments"


def options(r: Any) -> dict[str, Any]:
    return {}


def _problem(func: str, args: list[Any], kwargs: dict[str, Any], cache: dict) -> str | None:
    from django.utils.module_loading import import_string

    if func not in cache:
        try:
            target = import_string(func)
            cache[func] = inspect.signature(target)
        except ImportError as exc:
            cache[func] = f"path does not resolve ({exc})"
        except (TypeError, ValueError):
            cache[func] = None  # a builtin without a signature: cannot check
    sig = cache[func]
    if sig is None or isinstance(sig, str):
        return sig
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        return f"arguments rejected: {exc}"
    return None


def check(ctx: RunContext) -> Verdict:
    cache: dict[str, Any] = {}
    evidence = []
    count = 0
    for e in ctx.timeline.of("task.enqueued"):
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
        return Verdict(NAME, True, f"{count} enqueues, every path resolves and binds")
    return Verdict(
        NAME, False, f"{len(evidence)} bad enqueues; first: {evidence[0]}", limit(evidence)
    )
