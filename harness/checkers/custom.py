"""Which of a project's invariants a run has, and their verdicts.

Two sources, one kind of thing (:class:`~harness.checkers.invariants.Invariant`):

* a scenario's ``[[expect.custom]]`` entries — ``call = "module:function"`` (or
  ``module.function``), optional ``name`` (the verdict's; default: the invariant's own) and
  ``options`` (keyword arguments of the function);
* the entry points of the group ``dq_harness.checkers`` of every installed distribution (a
  package of reusable invariants: ``name = "package.module:function"``), run by default.

``[expect] checks`` selects by name: plain names keep only those (built-in checkers and entry
points), ``"!name"`` leaves one out; a scenario's ``[[expect.custom]]`` entries always run unless
left out with ``"!name"`` (declaring one is choosing it). Each invariant gets a verdict of its
own, with the same problems, fingerprints, baseline and report treatment as a built-in checker.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from dataclasses import dataclass, replace
from typing import Any

from harness.checkers import RunContext, Verdict
from harness.checkers.invariants import Invariant, InvariantContext, default_name, problems_of
from harness.checkers.problems import Problem, steady
from harness.errors import HarnessError

GROUP = "dq_harness.checkers"
KEY = "custom"  # [[expect.custom]]


class InvariantError(HarnessError):
    """An invariant that cannot be used: one line naming the file, the key path and why."""

    def __init__(self, source: str, where: str, reason: str) -> None:
        self.source, self.where, self.reason = source, where, reason
        super().__init__(f"{source}: {where}: {reason}")


@dataclass(frozen=True)
class Chosen:
    """One invariant a run judges: its verdict name, the invariant, its options, and where it
    was declared (for messages)."""

    name: str
    invariant: Invariant
    options: dict[str, Any]
    where: str


def entry_points() -> dict[str, Any]:
    """The installed ``dq_harness.checkers`` entry points by name (read again when
    ``sys.path`` changes)."""
    return dict(_entry_points(tuple(sys.path)))


@functools.lru_cache(maxsize=4)
def _entry_points(path: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    from importlib.metadata import entry_points as found

    return tuple(sorted((ep.name, ep) for ep in found(group=GROUP)))


def load(call: str, source: str, where: str) -> Invariant:
    """The invariant ``module:function`` (or ``module.function``) names; a plain function is an
    invariant that collects nothing, named after itself."""
    module, _, attr = call.rpartition(":" if ":" in call else ".")
    try:
        target = getattr(importlib.import_module(module), attr)
    except AttributeError:
        raise InvariantError(source, where, f"module {module!r} has no {attr!r}") from None
    except Exception as exc:  # ImportError, or the module raising while it imports
        first = (str(exc).splitlines() or [""])[0]
        hint = " (run from the project root)" if isinstance(exc, ModuleNotFoundError) else ""
        reason = f"cannot import {module!r}: {type(exc).__name__}: {first}{hint}"
        raise InvariantError(source, where, reason) from None
    return as_invariant(target, call, source, where)


def as_invariant(target: Any, call: str, source: str, where: str) -> Invariant:
    if isinstance(target, Invariant):
        return target
    if inspect.isfunction(target) or inspect.ismethod(target):
        return Invariant(target, default_name(target))
    what = type(target).__name__
    reason = (
        f"{call!r} is not an invariant ({what}): a function of ctx, or one decorated with "
        "harness.invariant"
    )
    raise InvariantError(source, where, reason)


def chosen(
    entries: list[dict[str, Any]], checks: list[str] | None, source: str, builtin: list[str]
) -> list[Chosen]:
    """The invariants a run with this ``[expect]`` judges, imported and checked: names unique
    and no built-in checker's, options the function accepts."""
    out: list[Chosen] = []
    skipped = {c[1:] for c in checks or [] if c.startswith("!")}
    picked = [c for c in checks or [] if not c.startswith("!")]
    for name, ep in entry_points().items():
        if name in skipped or (picked and name not in picked):
            continue
        where = f"entry point {GROUP}:{name}"
        try:
            target = ep.load()
        except Exception as exc:
            reason = f"cannot load {ep.value!r}: {type(exc).__name__}: {exc}"
            raise InvariantError(source, where, reason) from None
        out.append(Chosen(name, as_invariant(target, ep.value, source, where), {}, where))
    for i, entry in enumerate(entries):
        where = f"expect.{KEY}[{i}]"
        inv = load(entry["call"], source, f"{where}.call")
        name = entry.get("name") or inv.name
        if name not in skipped:
            options = dict(entry.get("options") or {})
            _check_options(inv, options, source, where)
            out.append(Chosen(name, inv, options, where))
    _unique(out, builtin, source)
    known = {c.name for c in out} | set(entry_points()) | set(builtin)
    for i, name in enumerate(checks or []):
        if name.removeprefix("!") not in known:
            reason = f"unknown checker {name!r}; known: {', '.join(sorted(known))}"
            raise InvariantError(source, f"expect.checks[{i}]", reason)
    return out


def _check_options(inv: Invariant, options: dict[str, Any], source: str, where: str) -> None:
    try:
        inspect.signature(inv.func).bind(None, **options)
    except TypeError as exc:
        raise InvariantError(source, f"{where}.options", f"{inv.name}: {exc}") from None


def _unique(out: list[Chosen], builtin: list[str], source: str) -> None:
    seen: set[str] = set()
    for c in out:
        if c.name in builtin or c.name in seen:
            what = "a built-in checker's" if c.name in builtin else "another invariant's"
            reason = f"{c.name!r} is {what} name: give it another (name = '…')"
            raise InvariantError(source, c.where, reason)
        seen.add(c.name)


def judge(ctx: RunContext, c: Chosen) -> Verdict:
    """One invariant's verdict on the recorded run (what it collected comes from the record)."""
    collected = ctx.record.snapshot.collected.get(c.name, {})
    problems: list[Any] = []
    for key in c.invariant.collect:
        if key not in collected:
            cause = "not collected by the run (judge a run replayed with this invariant)"
            problems.append(Problem(c.name, "not-collected", key, cause, f"{key}: {cause}"))
        for entry in collected.get(key, []):
            if entry.get("error"):
                cause = f"collecting it failed: {steady(entry['error'])}"
                message = (
                    f"{key}: collecting it at {ctx.when(entry['at'])} failed: {entry['error']}"
                )
                problems.append(Problem(c.name, "not-collected", key, cause, message, entry["at"]))
    if not problems:
        problems = _run(ctx, c, collected)
    rows = sum(len(e.get("rows", [])) for entries in collected.values() for e in entries)
    held = c.invariant.doc or f"{c.name} holds"
    if c.invariant.collect:
        held = f"{held.rstrip('.')}; {rows} rows collected"
    first = problems[0].message if problems else ""
    return Verdict.of(c.name, problems, held, f"{len(problems)} problems; first: {first}")


def _run(ctx: RunContext, c: Chosen, collected: dict[str, Any]) -> list[Problem]:
    """The invariant's problems, as its own (an exception or a stray value is one too)."""
    try:
        found = problems_of(c.invariant(InvariantContext(ctx, c.name, collected), **c.options))
    except Exception as exc:
        error = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        cause = f"the invariant raised {steady(error)}"
        return [Problem(c.name, "raised", c.name, cause, f"{c.name} raised {error}")]
    out = []
    for item in found:
        if not isinstance(item, Problem):
            cause = "returned something that is not a Problem (use ctx.problem)"
            out.append(Problem(c.name, "not-a-problem", c.name, cause, f"{cause}: {item!r:.80}"))
        else:
            out.append(item if item.checker == c.name else replace(item, checker=c.name))
    return out
