"""A project's own invariants: functions over the recorded run, and the business state they read.

Many real bugs live only in the project's own tables — a service billed twice in one period, an
order cancelled after its money arrived, expired tokens never purged. An invariant is a function
of the project (in a test-side module, not its application code) that receives the recorded run
and returns (or yields) :class:`~harness.checkers.problems.Problem` s; it may declare rows of the
project's models to collect while the run is live, which the record keeps, so ``harness judge
RUN.json`` judges it again without a database::

    from harness import invariant, rows

    @invariant(
        "billed-once-per-period",
        charges=rows("billing.Charge", "id", "subscription_id", "period", "status"),
    )
    def billed_once_per_period(ctx):
        seen = {}
        for charge in ctx.collected["charges"][-1]["rows"]:
            ...
            yield ctx.problem("billed-twice", f"subscription {sid}", "charged twice in a month",
                              f"subscription {sid} charged twice in {month}")

``rows(model, *fields, when=..., filter=...)``: ``model`` is a label (``app_label.Model``);
``fields`` the values to keep (``.values(*fields)``; none: every concrete field); ``when`` is
``"end"`` (once, at the end of the run), ``"daily"`` (at each virtual midnight in the scenario's
zone) or ``"after:<glob>"`` (after each execution of a task function matching the glob, its
body's writes included); ``filter`` a ``.filter(**filter)``. The values are rendered as the
timeline renders arguments (:func:`harness.record.timeline.stable`: dates and times as ISO
strings, decimals as strings) and configured secrets are replaced by their markers.

The module is imported by ``harness judge``, which has no Django: name models by label, and
import the project's models (if at all) inside the function, never at module level.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.checkers.problems import Problem

WHEN = ("end", "daily")  # or "after:<task function glob>"
NAME = re.compile(r"^[A-Za-z0-9][\w.-]*$")
MODEL = re.compile(r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Rows:
    """Rows of one model to collect: ``rows("billing.Charge", "period", when="daily")``."""

    model: str
    fields: tuple[str, ...] = ()
    when: str = "end"
    filter: Mapping[str, Any] = field(default_factory=dict)

    @property
    def after(self) -> str | None:
        """The task function glob of ``when="after:<glob>"`` (None for end and daily)."""
        return self.when[len("after:") :] if self.when.startswith("after:") else None

    def mistake(self) -> str | None:
        """Why this declaration cannot be collected (None: it can), model aside."""
        if not isinstance(self.model, str) or not MODEL.match(self.model):
            return f"{self.model!r} is not a model label like 'billing.Charge'"
        if self.when not in WHEN and not (self.after and self.after.strip()):
            return f"when={self.when!r}: use 'end', 'daily' or 'after:<task function glob>'"
        if not all(isinstance(f, str) for f in self.fields):
            return "fields are names (strings)"
        if not isinstance(self.filter, Mapping):
            return f"filter={self.filter!r} is not a mapping of lookups to values"
        return None


def rows(
    model: str, *fields: str, when: str = "end", filter: Mapping[str, Any] | None = None
) -> Rows:
    """Declare rows to collect for an invariant (see the module docstring)."""
    return Rows(model, tuple(fields), when, dict(filter or {}))


@dataclass(frozen=True)
class Invariant:
    """A function over the recorded run, with what it collects from the database."""

    func: Callable[..., Any]
    name: str
    collect: Mapping[str, Rows] = field(default_factory=dict)

    @property
    def doc(self) -> str:
        return (inspect.getdoc(self.func) or "").split("\n\n")[0].replace("\n", " ")

    def __call__(self, ctx: Any, **options: Any) -> Any:
        return self.func(ctx, **options)


def default_name(func: Callable[..., Any]) -> str:
    """``no_duplicate_invoice`` → ``no-duplicate-invoice`` (checker names use hyphens)."""
    return getattr(func, "__name__", "invariant").strip("_").replace("_", "-") or "invariant"


def invariant(name: str | Callable[..., Any] | None = None, **collect: Rows) -> Any:
    """Make ``func(ctx, **options)`` an invariant named ``name`` (default: the function's name
    with hyphens) that collects ``collect`` (each a :func:`rows`). Bare ``@invariant`` works."""
    if callable(name):
        return Invariant(name, default_name(name))
    for key, spec in collect.items():
        if not isinstance(spec, Rows):
            raise TypeError(f"invariant {name or '?'}: {key}= must be harness.rows(...)")

    def wrap(func: Callable[..., Any]) -> Invariant:
        return Invariant(func, name or default_name(func), dict(collect))

    return wrap


class InvariantContext:
    """What an invariant reads: the run (every attribute of
    :class:`~harness.checkers.RunContext`: ``timeline``, ``history``, ``schedules``, ``ledger``,
    ``zone``, ``when(t)``, …), ``collected[name]`` — a list of ``{"at": datetime, "rows": [...]}``
    (after a task also ``task``, ``func``, ``attempt``) — and :meth:`problem`."""

    def __init__(self, run: Any, name: str, collected: dict[str, list[dict[str, Any]]]) -> None:
        self.run = run
        self.name = name
        self.collected = collected

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.run, attr)

    def problem(
        self,
        rule: str,
        subject: str,
        cause: str,
        message: str | None = None,
        at: dt.datetime | str | None = None,
    ) -> Problem:
        """One instance: ``rule`` (a slug), ``subject`` (the business key), ``cause`` (the same
        words for every instance of it), ``message`` (this instance, for a human), ``at``."""
        if isinstance(at, str):
            at = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        return Problem(self.name, rule, str(subject), cause, message or f"{subject}: {cause}", at)


def problems_of(result: Any) -> list[Any]:
    """What an invariant returned: None, one Problem, or an iterable of them."""
    if result is None:
        return []
    if isinstance(result, Problem):
        return [result]
    if isinstance(result, Iterable) and not isinstance(result, str | bytes | Mapping):
        return list(result)
    return [result]
