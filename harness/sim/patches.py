"""Every monkeypatch the harness applies to django-q2 (and one to requests), in one place.

Each patch is reversible (:meth:`Patches.undo` restores the exact previous value) and carries
the reason it exists (``Patches.reasons()``). Nothing else in the harness sets attributes on
django-q2 modules. The full table with reasons is in ``docs/driver.md``.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

TASK_HEADER = "X-Harness-Task-Id"
ATTEMPT_HEADER = "X-Harness-Attempt"

current_attempt: ContextVar[tuple[str, int] | None] = ContextVar("harness_attempt", default=None)
"""(task id, attempt) of the task the driver is executing right now, if any."""

_MISSING = object()


class Patches:
    """A stack of reversible attribute patches with reasons."""

    def __init__(self) -> None:
        self._stack: list[tuple[Any, str, Any, str]] = []

    def set(self, target: Any, name: str, value: Any, reason: str) -> None:
        self._stack.append((target, name, getattr(target, name, _MISSING), reason))
        setattr(target, name, value)

    def undo(self) -> None:
        while self._stack:
            target, name, old, _reason = self._stack.pop()
            if old is _MISSING:
                delattr(target, name)
            else:
                setattr(target, name, old)

    def reasons(self) -> list[str]:
        return [
            f"{getattr(t, '__name__', type(t).__name__)}.{n}: {r}" for t, n, _, r in self._stack
        ]


def _noop() -> None:
    return None


def seeded_uuid(seed: int) -> Callable[[], tuple[str, str]]:
    """A drop-in for ``django_q.humanhash.uuid``: same seed, same ids and names."""
    from django_q.humanhash import humanize

    rng = random.Random(f"dq-harness:{seed}")

    def uuid() -> tuple[str, str]:
        digest = f"{rng.getrandbits(128):032x}"
        return humanize(digest), digest

    return uuid


def _attributing_request(original: Callable[..., Any]) -> Callable[..., Any]:
    def request(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        attempt = current_attempt.get()
        if attempt is not None:
            headers = dict(kwargs.get("headers") or {})
            headers.setdefault(TASK_HEADER, attempt[0])
            headers.setdefault(ATTEMPT_HEADER, str(attempt[1]))
            kwargs["headers"] = headers
        return original(self, method, url, *args, **kwargs)

    request.__wrapped__ = original  # type: ignore[attr-defined]
    return request


def install(seed: int, broker_class: str = "harness.sim.broker.DeterministicORM") -> Patches:
    """Apply the run-wide patches; returns the handle to undo them."""
    import django_q.monitor
    import django_q.pusher
    import django_q.scheduler
    import django_q.tasks
    import django_q.worker
    import requests
    from django_q.conf import Conf
    from django_q.models import Schedule

    p = Patches()
    for module in (django_q.worker, django_q.monitor, django_q.scheduler):
        p.set(
            module,
            "close_old_django_connections",
            _noop,
            "closes the test transaction's connection on PostgreSQL",
        )
    for module in (django_q.worker, django_q.pusher, django_q.monitor):
        p.set(module, "setproctitle", None, "do not rename the test process")
    p.set(django_q.tasks, "uuid", seeded_uuid(seed), "deterministic task ids and names")
    p.set(Schedule._meta, "ordering", ["next_run", "id"], "stable order for due-schedule ties")
    p.set(Conf, "POLL", 0, "no real sleep on an empty ORM queue")
    p.set(Conf, "RECYCLE", 10**9, "a worker call handles exactly one task")
    p.set(Conf, "MAX_RSS", None, "never recycle a worker on memory")
    p.set(Conf, "BROKER_CLASS", broker_class, "deterministic claim order, no POLL sleep")
    p.set(
        requests.Session,
        "request",
        _attributing_request(requests.Session.request),
        "attribute outgoing HTTP calls to the task attempt",
    )
    return p


@contextlib.contextmanager
def deferred_post_migrate() -> Iterator[None]:
    """``migrate`` without its ``post_migrate`` signal, for building the template database.

    ``post_migrate`` handlers create rows that read the clock (a schedule's ``next_run =
    now()``); built into the template in real time they would carry today's date into every
    virtual window. The runner sends the signal itself at each run's virtual start
    (:func:`emit_post_migrate`), as ``migrate`` would at a deploy at that instant.
    """
    import django.core.management.commands.migrate as migrate_command

    p = Patches()
    p.set(
        migrate_command,
        "emit_post_migrate_signal",
        lambda *args, **kwargs: None,
        "the template keeps no clock-dependent post_migrate rows; each run sends it at its start",
    )
    try:
        yield
    finally:
        p.undo()


def emit_post_migrate(alias: str = "default") -> None:
    """Send ``post_migrate`` for every app, as ``migrate`` does on a fresh database."""
    from django.apps import apps
    from django.core.management.sql import emit_post_migrate_signal
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
    emit_post_migrate_signal(verbosity=0, interactive=False, db=alias, apps=apps, plan=plan)


CLUSTER_KNOBS = (
    "CLUSTER_NAME",
    "RETRY",
    "BULK",
    "MAX_ATTEMPTS",
    "SAVE_LIMIT",
    "ACK_FAILURES",
    "CATCH_UP",
    "TIMEOUT",
    "QUEUE_LIMIT",
    "WORKERS",
)


@contextlib.contextmanager
def cluster_conf(values: dict[str, Any]) -> Iterator[None]:
    """Set ``Conf`` knobs for one simulated cluster's call, then restore them."""
    from django_q.conf import Conf

    old = {k: getattr(Conf, k) for k in values}
    for k, v in values.items():
        setattr(Conf, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(Conf, k, v)
