"""Load generators: seeded arrival times for a scenario's ``[[load]]`` entries.

Each generator yields ``Arrival(at, n, i)``: the instant, the running number ``n`` (1, 2, … over
the whole generator) and the index ``i`` within its burst. Times depend only on the scenario,
the seed and the generator's name, so adding a generator never moves another one's arrivals.
Arguments are templates: ``"{n}"``, ``"shop-{n}.ro"``, ``"{day}"`` (local date), ``"{i}"``,
``"{seed}"``, ``"{name}"``; a string that is exactly ``"{n}"`` or ``"{i}"`` becomes an int.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.scenario.model import LoadSpec, Scenario


@dataclass(frozen=True)
class Arrival:
    at: dt.datetime
    n: int
    i: int


def _window(spec: LoadSpec, scenario: Scenario) -> tuple[dt.datetime, dt.datetime]:
    begin = scenario.start + spec.start
    end = scenario.end if spec.end is None else min(scenario.end, scenario.start + spec.end)
    return begin, end


def _points(spec: LoadSpec, scenario: Scenario, rng: random.Random) -> Iterator[dt.datetime]:
    begin, end = _window(spec, scenario)
    zone = scenario.zone
    if spec.per_day is not None:
        day = begin.astimezone(zone).date()
        weights = list(spec.shape)
        while True:
            midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone)
            if midnight.astimezone(dt.UTC) >= end:
                return
            hours = rng.choices(range(24), weights=weights, k=spec.per_day)
            for hour in sorted(hours):
                second = rng.randrange(3600)
                local = midnight.replace(hour=hour) + dt.timedelta(seconds=second)
                yield local.astimezone(dt.UTC)
            day += dt.timedelta(days=1)
    elif spec.every is not None:
        t = begin
        while t < end:
            yield t
            t += spec.every
    elif spec.at:
        for value in spec.at:
            yield scenario.start + value if isinstance(value, dt.timedelta) else value
    elif spec.cron is not None:
        from croniter import croniter

        it = croniter(spec.cron, begin.astimezone(zone) - dt.timedelta(microseconds=1))
        while True:
            t = it.get_next(dt.datetime).astimezone(dt.UTC)
            if t >= end:
                return
            yield t


def arrivals(spec: LoadSpec, scenario: Scenario, seed: int) -> list[Arrival]:
    """Every arrival of ``spec`` inside the scenario's window, in time order."""
    rng = random.Random(f"dq-harness-load:{seed}:{spec.name}")
    begin, end = _window(spec, scenario)
    out: list[Arrival] = []
    n = 0
    for point in _points(spec, scenario, rng):
        bursts = 1 if spec.per_day is not None else spec.count
        offsets = sorted(
            rng.uniform(0, spec.spread.total_seconds()) if spec.spread else 0.0
            for _ in range(bursts)
        )
        for i, offset in enumerate(offsets):
            at = point + dt.timedelta(seconds=round(offset))
            if begin <= at < end:
                n += 1
                out.append(Arrival(at, n, i))
    out.sort(key=lambda a: (a.at, a.n))
    return out


def render(value: Any, fields: dict[str, Any]) -> Any:
    """Fill ``{n}``-style templates in strings, lists and dicts (other values pass through)."""
    if isinstance(value, str):
        if value in ("{n}", "{i}", "{seed}"):
            return fields[value[1:-1]]
        return value.format_map(fields)
    if isinstance(value, list):
        return [render(v, fields) for v in value]
    if isinstance(value, dict):
        return {k: render(v, fields) for k, v in value.items()}
    return value


def fields_for(spec: LoadSpec, arrival: Arrival, scenario: Scenario, seed: int) -> dict[str, Any]:
    local = arrival.at.astimezone(scenario.zone)
    return {
        "n": arrival.n,
        "i": arrival.i,
        "day": local.date().isoformat(),
        "seed": seed,
        "name": spec.name,
    }


MAX_ARRIVALS = 1_000_000
"""Arrivals a replay generates before it refuses to run (``--max-arrivals``,
``HARNESS_MAX_ARRIVALS``): ten million arrivals took 5.8 GB before they ran out of memory."""


def estimate(spec: LoadSpec, scenario: Scenario, ceiling: int) -> int:
    """How many arrivals ``spec`` makes in the scenario's window (counted up to ``ceiling``
    past which the exact number does not matter), without making them."""
    import math

    begin, end = _window(spec, scenario)
    if end <= begin:
        return 0
    if spec.per_day is not None:
        days = math.ceil((end - begin) / dt.timedelta(days=1)) + 1
        return spec.per_day * days
    if spec.every is not None:
        return math.ceil((end - begin) / spec.every) * spec.count
    if spec.at:
        return len(spec.at) * spec.count
    points = 0
    for _ in _points(spec, scenario, random.Random(0)):
        points += 1
        if points * spec.count > ceiling:
            break
    return points * spec.count


def check_ceiling(scenario: Scenario, ceiling: int) -> None:
    """Refuse, in one line naming the load, a scenario whose load would make more than
    ``ceiling`` arrivals (before anything is made)."""
    from harness.scenario.model import ScenarioError

    total = 0
    for i, spec in enumerate(scenario.loads):
        n = estimate(spec, scenario, ceiling)
        total += n
        if total > ceiling:
            raise ScenarioError(
                scenario.source,
                f"load[{i}]",
                f"{spec.name} would make about {n:,} arrivals ({total:,} with the loads before "
                f"it), over the ceiling of {ceiling:,}: lower per_day/count or widen every, or "
                "lift the ceiling with --max-arrivals N (HARNESS_MAX_ARRIVALS)",
            )
