"""Two runs side by side: which problems are new, fixed or unchanged (by fingerprint), and what
changed in the work done — task runs and outcomes per function, schedule fires per schedule.

The check for "did my fix work": ``harness diff before.json after.json`` exits 1 when the second
run has a problem the first did not. Both records are judged again here with the same checkers,
so two runs written by different harness versions still compare fingerprint for fingerprint.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.checkers.problems import Problem
from harness.record.history import History
from harness.record.timeline import SCHEDULE_FIRED

COUNTS = ("runs", "ok", "failed", "timeout", "retries", "duplicates")


@dataclass
class RunDiff:
    """What differs between run A and run B."""

    new: dict[str, list[Problem]] = field(default_factory=dict)  # fingerprint → B's instances
    fixed: dict[str, list[Problem]] = field(default_factory=dict)  # fingerprint → A's
    unchanged: dict[str, tuple[int, int]] = field(default_factory=dict)  # → (A count, B count)
    tasks: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)  # func → col → A, B
    schedules: dict[str, tuple[int, int]] = field(default_factory=dict)  # name → fires A, B
    examples: dict[str, Problem] = field(default_factory=dict)  # fingerprint → one instance

    @property
    def worse(self) -> bool:
        return bool(self.new)

    def to_dict(self) -> dict[str, Any]:
        return {
            "new": {f: [p.to_dict() for p in ps] for f, ps in self.new.items()},
            "fixed": {f: [p.to_dict() for p in ps] for f, ps in self.fixed.items()},
            "unchanged": {f: list(c) for f, c in self.unchanged.items()},
            "tasks": {f: {k: list(v) for k, v in cols.items()} for f, cols in self.tasks.items()},
            "schedules": {n: list(c) for n, c in self.schedules.items()},
        }


def _by_fingerprint(verdicts: list[Any]) -> dict[str, list[Problem]]:
    out: dict[str, list[Problem]] = {}
    for v in verdicts:
        for p in [*v.problems, *v.known]:
            out.setdefault(p.fingerprint, []).append(p)
    return out


def _fires(timeline: Any) -> Counter[str]:
    return Counter(e.data.get("schedule") for e in timeline.of(SCHEDULE_FIRED))


def diff(a: tuple[Any, list[Any]], b: tuple[Any, list[Any]]) -> RunDiff:
    """``a`` and ``b``: (record, verdicts) of each run."""
    (rec_a, verdicts_a), (rec_b, verdicts_b) = a, b
    pa, pb = _by_fingerprint(verdicts_a), _by_fingerprint(verdicts_b)
    out = RunDiff()
    for f in pb.keys() - pa.keys():
        out.new[f] = pb[f]
    for f in pa.keys() - pb.keys():
        out.fixed[f] = pa[f]
    for f in pa.keys() & pb.keys():
        out.unchanged[f] = (len(pa[f]), len(pb[f]))
    out.examples = {f: ps[0] for f, ps in {**pa, **pb}.items()}
    sa, sb = History(rec_a.timeline).stats(), History(rec_b.timeline).stats()
    empty = dict.fromkeys(COUNTS, 0)
    for func in sorted(sa.keys() | sb.keys()):
        ra, rb = sa.get(func, empty), sb.get(func, empty)
        changed = {c: (ra[c], rb[c]) for c in COUNTS if ra[c] != rb[c]}
        if changed:
            out.tasks[func] = changed
    fa, fb = _fires(rec_a.timeline), _fires(rec_b.timeline)
    for name in sorted(fa.keys() | fb.keys(), key=str):
        if fa[name] != fb[name]:
            out.schedules[str(name)] = (fa[name], fb[name])
    return out


def print_diff(d: RunDiff, a: str, b: str, console: Any = None) -> None:
    from rich.console import Console

    console = console or Console(width=140)

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    say(
        f"problems of {b} against {a}: {len(d.new)} new, {len(d.fixed)} fixed, "
        f"{len(d.unchanged)} unchanged (by fingerprint)"
    )
    for mark, group in (("+ new  ", d.new), ("- fixed", d.fixed)):
        for f, problems in sorted(group.items(), key=lambda kv: kv[1][0].root):
            p = problems[0]
            say(f"  {mark} {f}  {p.checker} · {p.rule}: {p.cause} — {p.subject} ({len(problems)}×)")
    for f, (na, nb) in sorted(d.unchanged.items(), key=lambda kv: d.examples[kv[0]].root):
        p = d.examples[f]
        counts = f"{na}×" if na == nb else f"{na}× → {nb}×"
        say(f"  = same  {f}  {p.checker} · {p.rule}: {p.cause} — {p.subject} ({counts})")
    if d.tasks:
        say("tasks (A → B):")
        for func, cols in d.tasks.items():
            say(f"  {func}: " + ", ".join(f"{c} {x} → {y}" for c, (x, y) in cols.items()))
    if d.schedules:
        say("schedule fires (A → B):")
        for name, (x, y) in d.schedules.items():
            say(f"  {name}: {x} → {y}")
    if not (d.new or d.fixed or d.tasks or d.schedules):
        say("no difference in problems, task outcomes or schedule fires")
