"""Problems: what a checker found wrong, one instance each, with what makes it the same problem.

A real week of PRAHO gave one CRON root cause fifteen evidence lines per schedule, and one known
``schedule=`` TypeError 126 enqueue-contract lines and 114 retry-discipline lines: right, and hard
to act on. Every failing verdict now carries its instances as :class:`Problem` s, each with a
**fingerprint** built from (checker, rule, subject, cause) — never a time, a task id or a database
id — so the same bug has the same fingerprint on every run, every seed and every commit:

* ``rule``: which of the checker's rules (a short slug: ``unexpected-kwargs``, ``double-fire``);
* ``subject``: what it is about: a schedule's name, a task function, an effect;
* ``cause``: the root cause in words, the same for every instance of it (a fixed phrase, or an
  error's class and message without times and ids).

The summary prints one line per root cause (checker, rule, cause) with its subjects, instances
and first/last local time (:func:`roots`); the JSON and the report keep every instance; a
baseline (:mod:`harness.checkers.baseline`) lists fingerprints a run may have without failing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_TIME = r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z| [A-Z]{2,5})?"
_VOLATILE = (
    (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"),  # task ids
    (re.compile(_TIME), "<time>"),
    (re.compile(r" at 0x[0-9a-fA-F]+"), ""),
    (re.compile(r"(?<![\w.<])\d+(\.\d+)?(?![\w.>])"), "N"),  # ids, counts, amounts in words
)


def steady(text: str) -> str:
    """``text`` without what changes from one instance to the next (task ids, times, addresses,
    numbers), so it can name a cause: ``steady("order 5 failed at 2026-03-01 10:00 EET")`` is
    ``"order N failed at <time>"``."""
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Problem:
    """One instance of something wrong, and the parts that make it the same problem."""

    checker: str
    rule: str
    subject: str
    cause: str
    message: str  # the instance, for a human: call, business key, local times
    at: dt.datetime | None = None  # when it happened (or was first seen), if it has a time

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.checker, self.rule, self.subject, self.cause)

    @property
    def fingerprint(self) -> str:
        """Twelve hex digits of a hash of the key: the same bug, the same fingerprint."""
        text = "\x1f".join(self.key)
        return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()

    @property
    def root(self) -> tuple[str, str, str]:
        """(checker, rule, cause): one root cause, whatever it touched."""
        return (self.checker, self.rule, self.cause)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "checker": self.checker,
            "rule": self.rule,
            "subject": self.subject,
            "cause": self.cause,
            "message": self.message,
            "at": None if self.at is None else _iso(self.at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        at = data.get("at")
        return cls(
            checker=data["checker"],
            rule=data["rule"],
            subject=data["subject"],
            cause=data["cause"],
            message=data.get("message", ""),
            at=dt.datetime.fromisoformat(at.replace("Z", "+00:00")) if at else None,
        )


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Root:
    """The instances of one root cause: its subjects, how many, when first and last."""

    checker: str
    rule: str
    cause: str
    problems: list[Problem] = field(default_factory=list)
    known: bool = False  # every instance is covered by the baseline

    @property
    def subjects(self) -> list[str]:
        return sorted({p.subject for p in self.problems})

    @property
    def fingerprints(self) -> list[str]:
        return sorted({p.fingerprint for p in self.problems})

    @property
    def first(self) -> dt.datetime | None:
        times = [p.at for p in self.problems if p.at is not None]
        return min(times) if times else None

    @property
    def last(self) -> dt.datetime | None:
        times = [p.at for p in self.problems if p.at is not None]
        return max(times) if times else None


def roots(problems: Iterable[Problem], known: set[str] | None = None) -> list[Root]:
    """Problems grouped by root cause, in the order each cause first appears."""
    out: dict[tuple[str, str, str], Root] = {}
    for p in problems:
        root = out.setdefault(p.root, Root(p.checker, p.rule, p.cause))
        root.problems.append(p)
    for root in out.values():
        root.known = known is not None and all(p.fingerprint in known for p in root.problems)
    return list(out.values())


def describe_root(root: Root, when: Any) -> str:
    """``schedule-adherence · skipped-repeated-hour: croniter …: 3 schedules, 18 times,
    2026-10-25 03:00 – 03:50 EET`` — ``when`` renders an instant in the run's zone."""
    n = len(root.problems)
    subjects = root.subjects
    what = subjects[0] if len(subjects) == 1 else f"{len(subjects)} subjects"
    span = ""
    if root.first is not None:
        first, last = when(root.first), when(root.last)
        if first == last:
            span = f", {first}"
        else:  # the same day: "2026-10-25 03:00 EET – 03:50 EET"
            span = f", {first} – {last[11:] if first[:11] == last[:11] else last}"
    times = "once" if n == 1 else f"{n} times"
    return f"{root.checker} · {root.rule}: {root.cause} — {what}, {times}{span}"
