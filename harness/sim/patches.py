"""Every monkeypatch the harness applies to django-q2 and to process-wide state, in one place.

Each patch is reversible (:meth:`Patches.undo` restores the exact previous value) and carries
the reason it exists (``Patches.reasons()``). Nothing else in the harness sets attributes on
django-q2 modules; ``uuid.uuid4``, the ``random`` module's state and console log handlers are
patched here too. (The lock model and the network guard patch Django's cache classes and
``socket`` through the same :class:`Patches`.) The full table is in ``docs/driver.md``.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from harness.fakes.ledger import ATTEMPT_HEADER, TASK_HEADER

current_attempt: ContextVar[tuple[str, int] | None] = ContextVar("harness_attempt", default=None)
"""(task id, attempt) of the task the driver is executing right now, if any."""

_MISSING = object()
_STATE = object()


class Patches:
    """A stack of reversible attribute patches with reasons."""

    def __init__(self) -> None:
        self._stack: list[tuple[Any, str, Any, str]] = []

    def set(self, target: Any, name: str, value: Any, reason: str) -> None:
        self._stack.append((target, name, getattr(target, name, _MISSING), reason))
        setattr(target, name, value)

    def on_undo(self, restore: Callable[[], None], reason: str) -> None:
        """A patch of state that is not an attribute (``random``'s generator): how to undo it."""
        self._stack.append((restore, "<state>", _STATE, reason))

    def undo(self) -> None:
        while self._stack:
            target, name, old, _reason = self._stack.pop()
            if old is _STATE:
                target()
            elif old is _MISSING:
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
    seed_process(p, seed)
    return p


def seed_process(p: Patches, seed: int) -> None:
    """``uuid.uuid4`` and the ``random`` module seeded for the run: applications put uuid
    nonces and lock tokens into task arguments, which reach the timeline."""
    import uuid as uuid_module

    rng = random.Random(f"dq-harness-uuid:{seed}")

    def uuid4() -> uuid_module.UUID:
        return uuid_module.UUID(int=rng.getrandbits(128), version=4)

    p.set(uuid_module, "uuid4", uuid4, "deterministic uuid4: nonces and tokens reach task args")
    state = random.getstate()
    random.seed(f"dq-harness:{seed}")
    p.on_undo(lambda: random.setstate(state), "random: seeded for the run, then restored")


def mute_console(p: Patches) -> None:
    """Console log handlers stay silent during a replay (it prints its own summary); every
    record is still captured by the runner's handler."""
    import logging

    loggers = [logging.getLogger()] + [
        lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for lg in loggers:
        for handler in lg.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                p.set(handler, "level", logging.CRITICAL + 1, "a replay prints its own summary")


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
