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
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from harness.fakes.ledger import ATTEMPT_HEADER, TASK_HEADER
from harness.patching import Patches

current_attempt: ContextVar[tuple[str, int] | None] = ContextVar("harness_attempt", default=None)
"""(task id, attempt) of the task the driver is executing right now, if any."""


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


def _attributing_send(original: Callable[..., Any]) -> Callable[..., Any]:
    """``Session.send`` with the running attempt's headers: every requests call passes here
    (``Session.request`` and the module helpers call it, and clients that pin DNS build a
    ``PreparedRequest`` and send it themselves)."""

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        attempt = current_attempt.get()
        if attempt is not None and request.headers is not None:
            request = request.copy()  # a prepared request reused by a later attempt stays clean
            request.headers.setdefault(TASK_HEADER, attempt[0])
            request.headers.setdefault(ATTEMPT_HEADER, str(attempt[1]))
        return original(self, request, **kwargs)

    send.__wrapped__ = original  # type: ignore[attr-defined]
    return send


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
        "send",
        _attributing_send(requests.Session.send),
        "attribute outgoing HTTP calls to the task attempt",
    )
    seed_process(p, seed)
    _observing_schedule_rows(p)
    return p


def seed_process(p: Patches, seed: int) -> None:
    """``uuid.uuid4`` and the ``random`` module seeded for the run: applications put uuid
    nonces and lock tokens into task arguments, which reach the timeline."""
    import uuid as uuid_module

    rng = random.Random(f"dq-harness-uuid:{seed}")

    def uuid4() -> uuid_module.UUID:
        return uuid_module.UUID(int=rng.getrandbits(128), version=4)

    original = uuid_module.uuid4
    p.set(uuid_module, "uuid4", uuid4, "deterministic uuid4: nonces and tokens reach task args")
    seed_field_defaults(p, original, uuid4)
    state = random.getstate()
    random.seed(f"dq-harness:{seed}")
    p.on_undo(lambda: random.setstate(state), "random: seeded for the run, then restored")


def seed_field_defaults(
    p: Patches, original: Callable[[], Any], seeded: Callable[[], Any], fields: Any = None
) -> None:
    """Model fields whose default is ``original`` (``UUIDField(default=uuid.uuid4)``: the field
    keeps the function itself, so patching the module misses it) get ``seeded`` for the run:
    their ids reach task results and the timeline. ``fields``: every concrete field of every
    installed model unless given."""
    if fields is None:
        from django.apps import apps

        fields = [f for model in apps.get_models() for f in model._meta.concrete_fields]
    for field in fields:
        if getattr(field, "default", None) is original:
            p.set(field, "default", seeded, "deterministic uuid4 defaults of model fields")
            # Field caches the callable it calls (``_get_default``, a cached_property)
            p.set(field, "_get_default", seeded, "the field's cached default callable")


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


_due: ContextVar[list[dict[str, Any]] | None] = ContextVar("harness_due", default=None)


@contextlib.contextmanager
def observe_due(into: list[dict[str, Any]]) -> Iterator[None]:
    """Within the block, the rows ``scheduler()`` iterates (the due schedules, in its order)
    are appended to ``into`` as (name, id, func, next_run) before its loop changes them."""
    token = _due.set(into)
    try:
        yield
    finally:
        _due.reset(token)


def _observing_schedule_rows(p: Patches) -> None:
    """The driver reads the due schedules from the scheduler's own query instead of asking
    the database a second time before each pass."""
    from django.db.models import QuerySet
    from django_q import scheduler as scheduler_module
    from django_q.models import Schedule

    scheduler_code = scheduler_module.scheduler.__code__

    class ObservedQuerySet(QuerySet):
        def __iter__(self) -> Iterator[Any]:
            into = _due.get()
            if into is None or sys._getframe(1).f_code is not scheduler_code:
                yield from super().__iter__()
                return
            for row in super().__iter__():
                into.append(
                    {"name": row.name, "id": row.pk, "func": row.func, "next_run": row.next_run}
                )
                yield row

    manager = Schedule._default_manager

    def get_queryset() -> Any:
        return ObservedQuerySet(model=Schedule, using=manager._db, hints=manager._hints)

    p.set(manager, "get_queryset", get_queryset, "the due rows of a pass, from its own query")


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
