"""Task functions for the harness's own tests (the harness never imports apps/)."""

from __future__ import annotations

from collections import Counter

from django_q.tasks import async_task

CALLS: Counter[str] = Counter()


def add(x: int, y: int) -> int:
    CALLS["add"] += 1
    return x + y


def fail(reason: str = "boom") -> None:
    CALLS["fail"] += 1
    raise RuntimeError(reason)


def tick(label: str = "tick", **kwargs: object) -> str:
    CALLS[label] += 1
    return label


def fan_out(n: int) -> int:
    for i in range(n):
        async_task("tests.harness.sample_tasks.add", i, 1)
    return n


def spin() -> None:
    while True:
        pass
