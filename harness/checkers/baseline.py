"""Baselines: the problems a project knows about, so a run fails only on new ones.

While one known bug lives, a run's FAIL is permanent and says nothing about whether today's
change helped or hurt. ``harness baseline RUN.json > harness-baseline.toml`` writes the
fingerprints of every problem a run had, readable and reviewable (checker, rule, subject, cause,
how often, the first instance); ``--baseline FILE`` (replay, judge, gate, sweep) or a scenario's
``baseline = "file"`` then:

* lets a problem whose fingerprint the file lists stand without failing its checker — never
  silently: the verdict and the summary count the known problems;
* fails on any fingerprint the file lacks;
* lists the file's fingerprints that no longer occur as "fixed — remove from baseline".

Anchors: the baseline files of mypy/pyright plugins, ruff's noqa audit, Semgrep's baseline scans.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.checkers.problems import Problem, roots
from harness.errors import HarnessError

FIELDS = ("fingerprint", "checker", "rule", "subject", "cause")


@dataclass(frozen=True)
class Entry:
    """One known problem: its fingerprint and what it means."""

    fingerprint: str
    checker: str
    rule: str
    subject: str
    cause: str
    count: int = 0
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "checker": self.checker,
            "rule": self.rule,
            "subject": self.subject,
            "cause": self.cause,
            "count": self.count,
            "message": self.message,
        }


@dataclass(frozen=True)
class Baseline:
    """The known problems, by fingerprint (read from a file, or carried by a run record)."""

    entries: dict[str, Entry]
    source: str = "<baseline>"

    @classmethod
    def read(cls, path: str | Path) -> Baseline:
        """Read a baseline file; a problem with it is one line (exit 2)."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise HarnessError(f"baseline {path}: cannot read it ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise HarnessError(f"baseline {path}: not TOML ({exc})") from None
        return cls.from_data(data, str(path))

    @classmethod
    def from_data(cls, data: Any, source: str) -> Baseline:
        items = data.get("problem", []) if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise HarnessError(f"baseline {source}: expected [[problem]] tables")
        entries = {}
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise HarnessError(f"baseline {source}: problem[{i}]: expected a table")
            for key in FIELDS:
                if not isinstance(item.get(key), str) or not item[key]:
                    raise HarnessError(f"baseline {source}: problem[{i}].{key}: is required")
            expected = Problem(item["checker"], item["rule"], item["subject"], item["cause"], "")
            if expected.fingerprint != item["fingerprint"]:
                raise HarnessError(
                    f"baseline {source}: problem[{i}].fingerprint: {item['fingerprint']} is not "
                    f"the fingerprint of its checker, rule, subject and cause "
                    f"({expected.fingerprint}); was the file edited by hand?"
                )
            entries[item["fingerprint"]] = Entry(
                **{k: item[k] for k in FIELDS},
                count=int(item.get("count", 0)),
                message=str(item.get("message", "")),
            )
        return cls(entries, source)

    @classmethod
    def of_problems(cls, problems: list[Problem], source: str = "<run>") -> Baseline:
        entries: dict[str, Entry] = {}
        for p in problems:
            found = entries.get(p.fingerprint)
            if found is None:
                entries[p.fingerprint] = Entry(
                    p.fingerprint, p.checker, p.rule, p.subject, p.cause, 1, p.message
                )
            else:
                entries[p.fingerprint] = replace(found, count=found.count + 1)
        return cls(entries, source)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "problem": [e.to_dict() for e in self.entries.values()]}

    # -- judging with it -----------------------------------------------------------------------
    def apply(self, verdicts: list[Any]) -> tuple[list[Any], list[Entry]]:
        """The verdicts with known problems set aside, and the entries that no longer occur
        (among the checkers that ran: a checker left out fixes nothing)."""
        seen: set[str] = set()
        out = []
        for v in verdicts:
            every = list(v.problems) + list(v.known)
            seen.update(p.fingerprint for p in every)
            new = [p for p in every if p.fingerprint not in self.entries]
            known = [p for p in every if p.fingerprint in self.entries]
            out.append(_rejudged(v, new, known) if known else v)
        ran = {v.name for v in verdicts}
        fixed = [e for f, e in self.entries.items() if f not in seen and e.checker in ran]
        return out, fixed


def _rejudged(v: Any, new: list[Problem], known: list[Problem]) -> Any:
    from harness.checkers import Verdict, limit

    counted = f"{len(known)} known problem{'s' if len(known) != 1 else ''} (baseline)"
    if not new:
        return Verdict(v.name, True, f"holds with the baseline: {counted}", [], [], known)
    message = f"{len(new)} new problem{'s' if len(new) != 1 else ''} and {counted}; first new: "
    evidence = limit([p.message for p in new])
    return Verdict(v.name, False, message + new[0].message, evidence, new, known)


def dumps(problems: list[Problem], header: str) -> str:
    """A baseline file for these problems: one ``[[problem]]`` per fingerprint, grouped by root
    cause, each with the first instance's message (a reviewer reads what is being accepted)."""
    import tomli_w

    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    out = "\n".join(lines) + "\n\n" if lines else ""
    for root in roots(problems):
        by_fingerprint = Baseline.of_problems(root.problems).entries
        out += f"# {root.checker} · {root.rule}: {root.cause}\n"
        for entry in by_fingerprint.values():
            out += tomli_w.dumps({"problem": [entry.to_dict()]}) + "\n"
    return out


def header(source: str, scenario: str, seed: int, end: dt.datetime) -> str:
    return (
        f"dq-harness baseline: the problems of {source} (scenario {scenario}, seed {seed}, "
        f"up to {end:%Y-%m-%d %H:%M} UTC).\n"
        "A run with --baseline THIS-FILE fails only on problems not listed here; a listed one\n"
        "that no longer occurs is reported as fixed: then remove it. Review every entry you keep."
    )
