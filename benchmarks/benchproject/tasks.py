"""Benchmark tasks: as cheap as possible, so what is measured is the queue, not the work."""

from __future__ import annotations

import time


def started_at() -> float:
    """Return the wall-clock instant the worker started this task.

    The result is saved in ``Task.result``; enqueue→start latency is ``result - enqueue time``
    (``Task.started`` is the *enqueue* time in django-q2, not the execution start).
    """
    return time.time()
