"""Measured task run times: the file ``harness durations`` writes and a scenario reads.

One table per function: how many rows were measured, the minimum, fixed quantiles and the
maximum, in seconds. A person reviews it like any other file in the repository; the simulation
samples it by inverse CDF (:meth:`Distribution.at`: linear between the quantiles), with a
uniform number the caller draws from its own seeded generator, so a task's duration depends only
on the seed, the task and the attempt. A leaf: the scenario parser, the simulation and the CLI
all use it.
"""

from __future__ import annotations

import bisect
import json
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FORMAT = 1
QUANTILES = (0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99)
KEYS = ("min", *(f"p{round(q * 100):02d}" for q in QUANTILES), "max")
"""The keys of a function's table, in order: ``min``, ``p01`` … ``p99``, ``max``."""
PROBS = (0.0, *QUANTILES, 1.0)


@dataclass(frozen=True)
class Distribution:
    """A function's run times: ``points[i]`` seconds at cumulative probability ``PROBS[i]``."""

    count: int
    points: tuple[float, ...]
    failed: int = 0

    @classmethod
    def of(cls, seconds: Iterable[float], failed: int = 0) -> Distribution:
        """The distribution of measured values (quantiles interpolated between order
        statistics, as PostgreSQL's ``percentile_cont``), rounded to microseconds."""
        values = sorted(seconds)
        if not values:
            raise ValueError("no values")
        return cls(len(values), tuple(round(_quantile(values, p), 6) for p in PROBS), failed)

    def at(self, u: float) -> float:
        """The run time at cumulative probability ``u`` (0 ≤ u ≤ 1): the inverse CDF."""
        u = min(max(u, 0.0), 1.0)
        i = min(bisect.bisect_right(PROBS, u), len(PROBS) - 1)
        p0, p1 = PROBS[i - 1], PROBS[i]
        v0, v1 = self.points[i - 1], self.points[i]
        return v0 + (v1 - v0) * (u - p0) / (p1 - p0)

    @property
    def low(self) -> float:
        return self.points[0]

    @property
    def high(self) -> float:
        return self.points[-1]


def _quantile(values: Sequence[float], p: float) -> float:
    h = (len(values) - 1) * p
    lo = math.floor(h)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (h - lo) * (values[hi] - values[lo])


def _number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def format_file(
    functions: Mapping[str, Distribution], header: Sequence[str], source: Mapping[str, Any]
) -> str:
    """The file's text: ``header`` as comments, the ``[source]`` table (strings, numbers, a
    table of numbers), then one ``[functions."dotted.path"]`` table per function, sorted."""
    lines = [f"# {line}".rstrip() for line in header]
    lines += ["", f"format = {FORMAT}", "", "[source]"]
    for key, value in source.items():
        lines.append(f"{key} = {_value(value)}")
    for func in sorted(functions):
        dist = functions[func]
        lines += ["", f"[functions.{_string(func)}]", f"count = {dist.count}"]
        lines.append(f"failed = {dist.failed}")
        lines += [f"{key} = {_number(v)}" for key, v in zip(KEYS, dist.points, strict=True)]
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return _string(str(value))


def _string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, except that TOML also escapes DEL."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def read_file(text: str) -> dict[str, Distribution]:
    """Parse the file; ``ValueError`` with a key path (``functions."a.b".p50: …``) if malformed."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not TOML ({exc})") from None
    unknown = sorted(set(data) - {"format", "source", "functions"})
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown key")
    if data.get("format") != FORMAT:
        raise ValueError(f"format: expected {FORMAT} (a file written by harness durations)")
    functions = data.get("functions")
    if not isinstance(functions, dict) or not functions:
        raise ValueError('functions: no [functions."dotted.path"] table')
    return {func: _function(f"functions.{json.dumps(func)}", t) for func, t in functions.items()}


def _function(where: str, table: Any) -> Distribution:
    if not isinstance(table, dict):
        raise ValueError(f"{where}: expected a table")
    unknown = sorted(set(table) - {"count", "failed", *KEYS})
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown key")
    counts = []
    for key in ("count", "failed"):
        value = table.get(key, 0 if key == "failed" else None)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{where}.{key}: expected a whole number, got {value!r}")
        counts.append(value)
    if counts[0] < 1:
        raise ValueError(f"{where}.count: expected at least 1")
    points = []
    for key in KEYS:
        value = table.get(key)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0:
            raise ValueError(f"{where}.{key}: expected seconds (a number ≥ 0), got {value!r}")
        if points and value < points[-1]:
            raise ValueError(f"{where}.{key}: {value} is below the value before it")
        points.append(float(value))
    return Distribution(counts[0], tuple(points), counts[1])
