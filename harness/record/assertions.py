"""Assertions over what a simulation enqueued, in the spirit of Oban's testing helpers.

They read the run's timeline (every ``async_task`` the run saw, from test code, tasks, hooks and
schedules), so they work after the fact and report the closest candidates when they fail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from harness.record.timeline import (
    TASK_ENQUEUED,
    TASK_ROLLEDBACK,
    Event,
    Timeline,
    format_time,
    stable,
)

Matcher = Any  # a value to compare with ==, or a predicate called with the actual value


def _matches(expected: Matcher, actual: Any) -> bool:
    if callable(expected) and not isinstance(expected, type):
        return bool(expected(actual))
    return stable(expected) == stable(actual)


def _timeline(source: Any) -> Timeline:
    return source.timeline if hasattr(source, "timeline") else source


def all_enqueued(
    source: Any,
    func: str | None = None,
    *,
    args: Matcher = None,
    kwargs: dict[str, Matcher] | Callable[[dict[str, Any]], bool] | None = None,
    at: datetime | None = None,
    within: timedelta = timedelta(seconds=1),
    queue: str | None = None,
) -> list[Event]:
    """Every ``task.enqueued`` event matching: ``func`` exactly; ``args`` the whole tuple (or a
    predicate); ``kwargs`` a subset of keyword arguments, each value or predicate; ``at`` the
    enqueue time within ``within``; ``queue`` the target cluster."""
    found = []
    timeline = _timeline(source)
    undone = {e.data["task"] for e in timeline.of(TASK_ROLLEDBACK)}
    for event in timeline.of(TASK_ENQUEUED):
        data = event.data
        if data["task"] in undone:
            continue
        if func is not None and data["func"] != func:
            continue
        if args is not None and not _matches(args, tuple(data.get("args") or ())):
            continue
        if kwargs is not None:
            actual = data.get("kwargs") or {}
            if callable(kwargs):
                if not kwargs(actual):
                    continue
            elif any(k not in actual or not _matches(v, actual[k]) for k, v in kwargs.items()):
                continue
        if at is not None and abs(event.at - at) > within:
            continue
        if queue is not None and data.get("queue") != queue:
            continue
        found.append(event)
    return found


def _describe(event: Event) -> str:
    d = event.data
    return (
        f"{format_time(event.at)} {d['func']} args={stable(d.get('args'))} "
        f"kwargs={stable(d.get('kwargs'))} queue={d.get('queue')}"
    )


def assert_enqueued(
    source: Any, func: str, *, count: int | None = None, **criteria: Any
) -> list[Event]:
    """Fail unless a matching enqueue happened (exactly ``count`` times, if given)."""
    found = all_enqueued(source, func, **criteria)
    if (count is None and found) or (count is not None and len(found) == count):
        return found
    same_func = all_enqueued(source, func)
    lines = [
        f"expected {'an' if count is None else count} enqueue(s) of {func} matching "
        f"{ {k: stable(v) if not callable(v) else '<predicate>' for k, v in criteria.items()} }"
        f", found {len(found)}"
    ]
    if same_func:
        lines.append(f"enqueues of {func} seen ({len(same_func)}):")
        lines += [f"  {_describe(e)}" for e in same_func[:10]]
    else:
        funcs = sorted({e.data["func"] for e in _timeline(source).of(TASK_ENQUEUED)})
        lines.append(f"no enqueue of {func} at all; enqueued functions: {funcs or 'none'}")
    raise AssertionError("\n".join(lines))


def assert_not_enqueued(source: Any, func: str, **criteria: Any) -> None:
    """Fail if any matching enqueue happened."""
    found = all_enqueued(source, func, **criteria)
    if found:
        raise AssertionError(
            f"expected no enqueue of {func} matching {criteria}, found "
            f"{len(found)}:\n" + "\n".join(f"  {_describe(e)}" for e in found[:10])
        )


def refute_enqueued(source: Any, func: str, **criteria: Any) -> None:
    """The old spelling of :func:`assert_not_enqueued` (read until the next release)."""
    from harness.spellings import deprecated

    deprecated("refute_enqueued", "assert_not_enqueued")
    assert_not_enqueued(source, func, **criteria)
