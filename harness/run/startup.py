"""What a project does while Django starts: kept off every database, redone at the virtual start.

``AppConfig.ready()`` runs at ``django.setup()``, before the virtual clock and the run's database
exist. PRAHO registers its e-Factura schedules there when a setting enables them; a replay that
let that happen would write real-time rows into the project's configured database and would
never see those schedules on virtual time.

So while the harness sets Django up (:func:`watching`), no statement reaches a database: opening a
connection raises :class:`StartupDatabaseBlocked` (an ``OperationalError``, so code that guards
its start-up work with ``except Exception`` carries on, as it would with the database down), and
the app whose ``ready()`` tried is remembered. At each run's virtual start, after
``post_migrate``, those apps' ``ready()`` run again (:func:`replay_ready`) on the run's database
under the virtual clock: their schedules and tasks start on virtual time, as the ``post_migrate``
ones do. A ``ready()`` that the block cut short (the error escaped it) is run whole; one that
carried on runs again with signal connections left as they are (they were made at start-up; a
receiver defined inside ``ready()`` would otherwise be connected twice).

When Django was set up before the harness could watch (pytest-django sets it up itself), nothing
is known; a scenario names the apps to redo with ``[startup] ready = ["billing"]``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError, UserCodeError, one_line
from harness.patching import Patches

_app: ContextVar[str | None] = ContextVar("harness_starting_app", default=None)


@dataclass
class StartupRecord:
    """What the project's start-up tried to do with a database (one per process)."""

    watched: bool = False  # the harness set Django up, so the record is complete
    touched: dict[str, bool] = field(default_factory=dict)  # app label → ready() cut short
    elsewhere: int = 0  # attempts outside any ready() (module imports): nothing to redo


STARTUP = StartupRecord()


def _blocked_error() -> type[Exception]:
    from django.db.utils import OperationalError

    class StartupDatabaseBlocked(OperationalError):
        """No database while Django starts under the harness (redone at the virtual start)."""

    return StartupDatabaseBlocked


@contextlib.contextmanager
def watching() -> Iterator[StartupRecord]:
    """Around ``django.setup()``: refuse every connection, note which ``ready()`` asked."""
    from django.apps.config import AppConfig
    from django.db.backends.base.base import BaseDatabaseWrapper

    blocked = _blocked_error()
    p = Patches()

    def ensure_connection(self: Any) -> None:
        label = _app.get()
        if label is None:
            STARTUP.elsewhere += 1
        else:
            STARTUP.touched.setdefault(label, False)
        raise blocked(
            "dq-harness: no database while Django starts; ready()'s database work is redone "
            "at the run's virtual start"
        )

    original_create = AppConfig.create.__func__  # type: ignore[attr-defined]

    def create(cls: type, entry: str) -> Any:
        config = original_create(cls, entry)
        config.ready = _guarded(config, config.ready, blocked)
        return config

    p.set(BaseDatabaseWrapper, "ensure_connection", ensure_connection, "no database at start-up")
    p.set(AppConfig, "create", classmethod(create), "attribute start-up database work to ready()")
    STARTUP.watched = True
    try:
        yield STARTUP
    finally:
        p.undo()


def _guarded(config: Any, ready: Callable[[], None], blocked: type) -> Callable[[], None]:
    def guarded() -> None:
        token = _app.set(config.label)
        try:
            ready()
        except Exception as exc:
            if config.label in STARTUP.touched and _caused_by(exc, blocked):
                STARTUP.touched[config.label] = True  # cut short: redo it whole
                return
            raise
        finally:
            _app.reset(token)

    return guarded


def _caused_by(exc: BaseException | None, kind: type) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def replay_ready(named: list[str], scope: Callable[[str], Any]) -> list[tuple[str, bool]]:
    """Run again, now, the ``ready()`` of every app whose start-up touched a database, and of
    the apps a scenario names; returns (label, run whole) in order. ``scope`` wraps each call
    (the simulation's call scope: virtual sleeps, kept log records)."""
    from django.apps import apps

    todo = dict(STARTUP.touched)
    for label in named:
        todo.setdefault(label, False)
    done = []
    for label, whole in todo.items():
        try:
            config = apps.get_app_config(label)
        except LookupError:
            raise HarnessError(
                f"startup.ready: no installed app with the label {label!r}"
            ) from None
        ready = type(config).ready  # the class's own: the guard was on the instance
        try:
            with scope("startup"), _signals_kept(not whole):
                ready(config)
        except (Exception, SystemExit) as exc:
            raise UserCodeError(
                f"startup: the ready() of app {label!r} failed at the virtual start: "
                f"{one_line(exc)}"
            ) from None
        done.append((label, whole))
    return done


@contextlib.contextmanager
def _signals_kept(keep: bool) -> Iterator[None]:
    """While ``keep``: ``Signal.connect`` does nothing (the start-up run connected them)."""
    if not keep:
        yield
        return
    from django.dispatch import Signal

    p = Patches()
    p.set(
        Signal,
        "connect",
        lambda *args, **kwargs: None,
        "ready() run again: its receivers were connected at start-up",
    )
    try:
        yield
    finally:
        p.undo()
