"""A fresh database per replay: a copy of the project's migrated template, owned while it lives.

The template holds what ``migrate`` builds *except* what ``post_migrate`` handlers create: those
rows read the clock (PRAHO registers schedules there with ``next_run = now()``), so the runner
sends ``post_migrate`` at each run's virtual start instead (:func:`emit_post_migrate`), which is
what ``migrate`` does on a fresh database at a deploy at that instant. Broker rows a data
migration left behind are reported and run at the start. The templates themselves (one per
project and migration state, a lock each, the least recently used evicted) are
:mod:`harness.infra.templates`.

Each run gets ``CREATE DATABASE dqh_run_<host>_<random> TEMPLATE <template>`` (a file copy, far
cheaper than migrating): the name is unique across hosts, containers and PID namespaces sharing
one server. The run **owns** it by holding a session-level advisory lock keyed by its name, on an
admin connection kept open for the run's whole life; the Django connection is pointed at it for
the run, and it is dropped afterwards. Whether another run's database is stale is asked of the
server, never of a local pid: stale means nobody holds its lock (the owner ended, or was killed
and its session went with it), and only then is it dropped — without ``FORCE``, so a database
someone is still connected to is left for a later run. Works on the embedded server and on any
``DATABASE_URL`` whose user may create databases.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
from collections.abc import Iterator
from typing import Any

from harness.errors import HarnessError
from harness.infra import templates
from harness.infra.templates import (
    STAGING_PREFIX,
    TEMPLATE_PREFIX,
    connected,
    execute,
    like,
    lock_key,
    point,
    try_lock,
    unlock,
)

PREFIX = "dqh_run_"
_LEGACY = re.compile(r"^dqh_run_(\d+)_\d+$")
"""Run databases of earlier versions, named by pid: ``dqh_run_<pid>_<n>``."""


def run_name() -> str:
    """A run database name no other host, container or namespace will pick: a host tag (for the
    person reading ``\\l``) and 64 random bits. The tag starts with a letter, so earlier
    versions, which read a pid there, leave these names alone."""
    host = re.sub(r"[^a-z0-9]", "", platform.node().lower())[:20]
    if not host[:1].isalpha():
        host = ("h" + host)[:20]
    return f"{PREFIX}{host}_{os.urandom(8).hex()}"


def _admin(settings: dict[str, Any]) -> Any:
    import psycopg

    from harness.infra.database import psycopg_kwargs

    try:
        return psycopg.connect(**psycopg_kwargs(settings, "postgres"), autocommit=True)
    except Exception as exc:
        raise HarnessError(f"cannot reach PostgreSQL to create a run database: {exc}") from None


def _legacy_stale(conn: Any, name: str) -> bool:
    """An earlier version's run database: its owner held no lock, so it is stale only when its
    pid is not alive here and nobody is connected to it."""
    match = _LEGACY.match(name)
    return bool(match) and not _alive(int(match.group(1))) and not connected(conn, name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_stale(conn: Any, own: str | None = None) -> list[str]:
    """Drop run databases (and half-built templates) nobody owns any more; return them.

    Owned means: a session holds the advisory lock of its name (a staging database: of its
    template's name). A run killed with SIGKILL loses its session, hence its lock, so its
    database is dropped here by the next run. ``DROP`` without ``FORCE`` waits up to 5 s for
    the dead run's backends to go, and fails (left for later) if a live session is still there.
    """
    rows = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s OR datname LIKE %s",
        (like(PREFIX), like(STAGING_PREFIX)),
    ).fetchall()
    dropped = []
    for (name,) in sorted(rows):
        if name == own:
            continue
        if _LEGACY.match(name):
            if _legacy_stale(conn, name):
                with contextlib.suppress(Exception):
                    execute(conn, "DROP DATABASE IF EXISTS {}", name)
                    dropped.append(name)
            continue
        owner = name
        if name.startswith(STAGING_PREFIX):
            owner = TEMPLATE_PREFIX + name[len(STAGING_PREFIX) :]
        key = lock_key(owner)
        if not try_lock(conn, key):
            continue  # a live session owns it
        try:
            execute(conn, "DROP DATABASE IF EXISTS {}", name)
            dropped.append(name)
        except Exception:  # still connected after 5 s: a later run tries again
            pass
        finally:
            unlock(conn, key)
    return dropped


@contextlib.contextmanager
def fresh_database(alias: str = "default") -> Iterator[str]:
    """Point ``connections[alias]`` at a new copy of the migrated template for the block."""
    from django.db import connections

    connection = connections[alias]
    settings = dict(connection.settings_dict)
    name = run_name()
    conn = _admin(settings)
    try:
        # owned before it exists: no one can see it unowned while this process lives
        conn.execute("SELECT pg_advisory_lock(%s)", (lock_key(name),))
        drop_stale(conn, own=name)
        templates.clone(conn, connection, name)
    except BaseException:
        conn.close()  # the lock goes with the session: a half-made database is stale
        raise
    original = connection.settings_dict["NAME"]
    point(connection, name)
    try:
        yield name
    finally:
        point(connection, original)
        _drop_own(conn, settings, name)


def _drop_own(conn: Any, settings: dict[str, Any], name: str) -> None:
    """Drop this run's database (``FORCE``: it is ours), then let go of its lock."""
    try:
        execute(conn, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)
    except Exception:  # the admin session was lost (server restart): drop it on a new one
        with _admin(settings) as again:
            execute(again, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)
    finally:
        conn.close()


def emit_post_migrate(alias: str = "default") -> None:
    """Send ``post_migrate`` for every app, as ``migrate`` does on a fresh database."""
    from django.apps import apps
    from django.core.management.sql import emit_post_migrate_signal
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
    emit_post_migrate_signal(verbosity=0, interactive=False, db=alias, apps=apps, plan=plan)
