"""A run's ``[expect]`` tables, parsed in one place.

A scenario keeps its ``[expect]`` tables as written (``Scenario.expect``, and a run record's
``ScenarioFacts.expect``); :func:`parse` is the one reading of them — at scenario load (so a
mistake is one line before anything runs), and when a record is judged (``harness judge``,
with another scenario's tables for ``--expect``). Each built-in checker validates its own table
with an :class:`~harness.options.OptionsReader` and hands back its typed ``Options``;
``[[expect.custom]]`` entries are checked for shape (their functions import once the project is
on the path: :func:`harness.checkers.custom.chosen`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.options import OptionsReader, show

KEY = "custom"


@dataclass(frozen=True)
class Expectations:
    """What a run is judged against."""

    options: dict[str, Any] = field(default_factory=dict)  # checker → its typed Options
    checks: list[str] | None = None  # the checkers chosen (None: every one)
    custom: list[dict[str, Any]] = field(default_factory=list)  # [[expect.custom]] entries

    def of(self, name: str) -> Any:
        """The typed options of checker ``name`` (its defaults when the table is absent)."""
        from harness.checkers import CHECKERS

        found = self.options.get(name)
        return found if found is not None else CHECKERS[name].Options()


def parse(
    raw: Mapping[str, Any], source: str, error: Callable[..., Exception] | None = None
) -> Expectations:
    """Validate and parse ``[expect]`` (one line naming the key path on the first mistake)."""
    from harness.checkers import CHECKERS
    from harness.checkers.custom import entry_points

    t = OptionsReader(source, raw, "expect", error or _scenario_error)
    custom = _custom(t, t.get(KEY, list)) if t.has(KEY) else []
    checks = t.get("checks", list, default=None)
    if checks is not None:
        named = {entry["name"] for entry in custom}
        known = [*CHECKERS, *sorted(entry_points()), *sorted(n for n in named if n)]
        for i, name in enumerate(checks):
            if not isinstance(name, str):
                t.fail(f"expected a checker name, got {show(name)}", f"checks[{i}]")
            if name.removeprefix("!") not in known and None not in named:  # else: once imported
                t.fail(f"unknown checker {name!r}; known: {', '.join(known)}", f"checks[{i}]")
        checks = list(checks)
    options: dict[str, Any] = {}
    for name in list(t.data):
        if name in ("checks", KEY):
            continue
        if name not in CHECKERS:
            t.fail(
                f"unknown checker; known: {', '.join(CHECKERS)} (your own: [[expect.custom]])", name
            )
        table = t.table(name)
        options[name] = CHECKERS[name].options(table)
        table.done()
    t.done()
    return Expectations(options, checks, custom)


def _scenario_error(source: str, where: str, reason: str) -> Exception:
    from harness.errors import ScenarioError

    return ScenarioError(source, where, reason)


def _custom(r: OptionsReader, items: list[Any]) -> list[dict[str, Any]]:
    """``[[expect.custom]]``: ``call`` (``module:function``), optional ``name`` and ``options``
    — shapes only (no project import without Django and the project's path)."""
    from harness.checkers.invariants import NAME
    from harness.options import APP_PATH

    out = []
    for i, item in enumerate(items):
        t = r.nested(item, f"expect.{KEY}[{i}]")
        call = t.get("call", str, required=True)
        if not APP_PATH.match(call):
            t.fail(f"{call!r} is not a dotted path like 'myproject.invariants:no_double'", "call")
        name = t.get("name", str, default=None)
        if name is not None and not NAME.match(name):
            t.fail(f"{name!r} is not a checker name (letters, digits, '-', '_', '.')", "name")
        out.append({"call": call, "name": name, "options": t.get("options", dict, default={})})
        t.done()
    return out
