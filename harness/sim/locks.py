"""Locks a running task holds until its virtual end, and caches each process has to itself.

The driver runs a task's whole body at its start instant; its virtual duration only decides
when the result reaches the monitor. A lock the body takes and releases (``cache.add`` …
``cache.delete``) would therefore be free again before an overlapping run starts, and a lock
that works would look like one that doesn't. This module keeps what a running attempt locked
held until that attempt's virtual end:

* **cache locks**: a key the attempt created with ``add`` (or ``set``) and then deletes is
  deleted at the attempt's end instead (``delete``/``delete_many``), on every cache backend in
  ``settings.CACHES`` — shared ones (database, Redis, memcached) as well as per-process ones;
* **PostgreSQL advisory locks**: ``pg_try_advisory_lock(k)`` of an attempt answers false while
  another running attempt holds ``k`` (all tasks share one database session here, where the
  real lock is re-entrant); unlocks take effect at the attempt's end. A blocking
  ``pg_advisory_lock`` held by another attempt proceeds: the holder's body has already run, so
  the state it sees is the state after the wait (recorded as ``lock.waited``);
* **registered helpers**: a project's own lock context managers (scenario ``[locks] helpers``),
  whose ``__exit__`` runs at the attempt's end.

A real cluster runs each worker in its own process, so a cache that lives in process memory
(``LocMemCache``) is one store per worker (and one for the monitor, the scheduler and the web
side), and ``DummyCache`` stores nothing. Here each worker slot gets its own LocMem store, and a
task that uses such a cache as a lock (``add`` then ``delete`` of one key) is a finding: the
lock guards nothing across workers.

Limits: a release is taken to happen at the attempt's end (the usual ``try/finally``); a lock
released by another task, TTLs kept by Redis or memcached (real time), and locks in other
databases' sessions are not modelled. A killed attempt (its cluster went down) never releases:
its locks stay until they expire, as with a real worker killed mid-task.
"""

from __future__ import annotations

import contextlib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from harness.patching import Patches
from harness.record.timeline import LOCK_REFUSED, LOCK_WAITED
from harness.sim.patches import current_attempt

Process = tuple[str, ...]
"""("worker", cluster, slot) | ("monitor", cluster) | ("sentinel", cluster) | ("web",)"""
WEB: Process = ("web",)
current_process: ContextVar[Process] = ContextVar("harness_process", default=WEB)

PER_PROCESS = ("LocMemCache", "DummyCache")
_ADVISORY = re.compile(
    r"pg_(?P<try>try_)?advisory_(?P<xact>xact_)?(?P<op>lock|unlock)(?:_shared)?\s*\((?P<args>[^()]*)\)",
    re.IGNORECASE,
)

Attempt = tuple[str, int]
Finding = Callable[..., None]


class LockModel:
    """The lock and per-process-cache model of one simulation (installed by the driver)."""

    def __init__(self, on_finding: Finding, on_event: Callable[..., None]) -> None:
        self.on_finding = on_finding
        self.on_event = on_event
        self.patches = Patches()
        self.stores: dict[tuple[str, Process], tuple[OrderedDict, dict]] = {}
        self.home: dict[str, tuple[dict, dict]] = {}  # each LocMem cache's own (web) store
        self.created: dict[Attempt, set[tuple[str, Process, str]]] = {}  # keys add/set made
        self.pending: dict[Attempt, list[Callable[[], Any]]] = {}  # releases at the end
        self.advisory: dict[Any, Attempt] = {}  # advisory key → holding attempt
        self.reported: set[tuple[str, str]] = set()
        self.func_of: Callable[[str], str | None] = lambda tid: None
        self._wrappers: list[Any] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def install(self, helpers: list[str] | tuple[str, ...] = ()) -> None:
        from django.conf import settings
        from django.core.cache import caches

        classes = {}
        for alias in getattr(settings, "CACHES", {}) or {}:
            backend = caches[alias]
            classes[type(backend)] = None
            if type(backend).__name__ == "LocMemCache":
                self.home[alias] = (backend._cache, backend._expire_info)
        for cls in classes:
            self._patch_cache_class(cls)
        for path in helpers:
            self._patch_helper(path)
        from django.db import connections

        for alias in connections:
            wrapper = connections[alias].execute_wrapper(self._sql)
            wrapper.__enter__()
            self._wrappers.append(wrapper)

    def uninstall(self) -> None:
        while self._wrappers:
            self._wrappers.pop().__exit__(None, None, None)
        self._switch(WEB)
        self.patches.undo()

    # -- processes ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def process(self, proc: Process) -> Iterator[None]:
        """Run a call as ``proc``: its own LocMem stores, its identity for the findings."""
        token = current_process.set(proc)
        self._switch(proc)
        try:
            yield
        finally:
            current_process.reset(token)
            self._switch(current_process.get())

    def _switch(self, proc: Process) -> None:
        from django.core.cache import caches

        for alias, home in self.home.items():
            backend = caches[alias]
            store = (
                home if proc == WEB else self.stores.setdefault((alias, proc), (OrderedDict(), {}))
            )
            backend._cache, backend._expire_info = store

    # -- the end of an attempt ---------------------------------------------------------------
    def finish(self, attempt: Attempt, proc: Process) -> None:
        """The attempt's virtual end: what it released during its body is released now."""
        releases = self.pending.pop(attempt, [])
        self.created.pop(attempt, None)
        for key in [k for k, holder in self.advisory.items() if holder == attempt]:
            del self.advisory[key]
        if releases:
            with self.process(proc):
                for release in releases:
                    release()

    def kill(self, attempt: Attempt) -> None:
        """A killed attempt releases nothing (its process is gone): keys stay until they
        expire; its advisory locks went with its session."""
        self.pending.pop(attempt, None)
        self.created.pop(attempt, None)
        for key in [k for k, holder in self.advisory.items() if holder == attempt]:
            del self.advisory[key]

    # -- caches ------------------------------------------------------------------------------
    def _patch_cache_class(self, cls: type) -> None:
        model = self
        kind = cls.__name__
        original_add, original_set = cls.add, cls.set
        original_delete, original_delete_many = cls.delete, cls.delete_many

        def add(self: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
            done = original_add(self, key, value, *args, **kwargs)
            attempt = current_attempt.get()
            if attempt is not None and (done or kind == "DummyCache"):
                model._created(attempt, self, key)
            return done

        def set_(self: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
            result = original_set(self, key, value, *args, **kwargs)
            attempt = current_attempt.get()
            if attempt is not None:
                model._created(attempt, self, key)
            return result

        def delete(self: Any, key: Any, *args: Any, **kwargs: Any) -> Any:
            if model._defer(self, key, lambda: original_delete(self, key, *args, **kwargs)):
                return True
            return original_delete(self, key, *args, **kwargs)

        def delete_many(self: Any, keys: Any, *args: Any, **kwargs: Any) -> Any:
            keys = list(keys)
            now = [k for k in keys if not model._defer(self, k, _deleter(original_delete, self, k))]
            if now:
                return original_delete_many(self, now, *args, **kwargs)
            return None

        reason = "a lock a task releases is held until the task's virtual end (harness.sim.locks)"
        self.patches.set(cls, "add", add, reason)
        self.patches.set(cls, "set", set_, reason)
        self.patches.set(cls, "delete", delete, reason)
        self.patches.set(cls, "delete_many", delete_many, reason)

    def _alias(self, backend: Any) -> str:
        from django.core.cache import caches

        for alias in caches:
            if caches[alias] is backend:
                return alias
        return "?"

    def _created(self, attempt: Attempt, backend: Any, key: Any) -> None:
        self.created.setdefault(attempt, set()).add(
            (self._alias(backend), current_process.get(), str(key))
        )

    def _defer(self, backend: Any, key: Any, release: Callable[[], Any]) -> bool:
        attempt = current_attempt.get()
        if attempt is None:
            return False
        alias, proc = self._alias(backend), current_process.get()
        if (alias, proc, str(key)) not in self.created.get(attempt, set()):
            return False
        kind = type(backend).__name__
        if kind in PER_PROCESS:
            self._per_process_lock(attempt, alias, kind, str(key))
        self.pending.setdefault(attempt, []).append(release)
        return True

    def _per_process_lock(self, attempt: Attempt, alias: str, kind: str, key: str) -> None:
        func = self.func_of(attempt[0]) or "?"
        if (alias, func) in self.reported:
            return
        self.reported.add((alias, func))
        what = (
            "stores nothing, so cache.add always succeeds"
            if kind == "DummyCache"
            else "lives in each process's memory, so every worker has its own"
        )
        self.on_finding(
            "lock on a per-process cache",
            func=func,
            key=key,
            cache=f"{alias} ({kind})",
            why=f"{kind} {what}: the lock guards nothing across a real cluster's workers",
        )

    # -- advisory locks ----------------------------------------------------------------------
    def _sql(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        attempt = current_attempt.get()
        if attempt is None or "advisory" not in sql:
            return execute(sql, params, many, context)
        for match in _ADVISORY.finditer(sql):
            key = _advisory_key(sql, match, params)
            holder = self.advisory.get(key)
            if match["op"] == "unlock":
                continue  # released at the attempt's end (finish)
            if holder is not None and holder != attempt:
                if match["try"]:
                    start, end = match.span()
                    sql = f"{sql[:start]}({match.group(0)} AND false){sql[end:]}"
                    self.on_event(LOCK_REFUSED, key=str(key), task=attempt[0], holder=holder[0])
                    continue
                self.on_event(LOCK_WAITED, key=str(key), task=attempt[0], holder=holder[0])
            self.advisory[key] = attempt
        return execute(sql, params, many, context)

    # -- registered helpers ------------------------------------------------------------------
    def _patch_helper(self, path: str) -> None:
        import sys

        from django.utils.module_loading import import_string

        original = import_string(path)
        model = self

        def helper(*args: Any, **kwargs: Any) -> Any:
            manager = original(*args, **kwargs)
            attempt = current_attempt.get()
            return manager if attempt is None else _HeldUntilEnd(manager, model, attempt)

        helper.__wrapped__ = original  # type: ignore[attr-defined]
        reason = f"{path}: released at the task's virtual end (scenario [locks] helpers)"
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if not namespace:
                continue
            for name, value in list(namespace.items()):
                if value is original:
                    self.patches.set(module, name, helper, reason)


class _HeldUntilEnd:
    """A lock helper's context manager whose exit waits for the attempt's virtual end."""

    def __init__(self, manager: Any, model: LockModel, attempt: Attempt) -> None:
        self.manager, self.model, self.attempt = manager, model, attempt

    def __enter__(self) -> Any:
        return self.manager.__enter__()

    def __exit__(self, *exc: Any) -> bool:
        if exc[0] is not None:  # the body failed: the helper sees the error now
            return bool(self.manager.__exit__(*exc))
        self.model.pending.setdefault(self.attempt, []).append(
            lambda: self.manager.__exit__(None, None, None)
        )
        return False


def _deleter(delete: Callable[..., Any], backend: Any, key: Any) -> Callable[[], Any]:
    return lambda: delete(backend, key)


def _advisory_key(sql: str, match: re.Match[str], params: Any) -> Any:
    """The lock's key: literal arguments, or the parameters their placeholders take."""
    args = match["args"]
    if "%s" not in args:
        return args.replace(" ", "")
    before = sql[: match.start()].count("%s")
    count = args.count("%s")
    values = list(params or ())[before : before + count]
    return tuple(values) if len(values) != 1 else values[0]
