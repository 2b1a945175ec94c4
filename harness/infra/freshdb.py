"""A fresh database per replay: migrate once into a template, copy it per run.

The template holds what ``migrate`` builds *except* what ``post_migrate`` handlers create: those
rows read the clock (PRAHO registers schedules there with ``next_run = now()``), so the runner
sends ``post_migrate`` at each run's virtual start instead (:func:`harness.infra.freshdb.
emit_post_migrate`), which is what ``migrate`` does on a fresh database at a deploy at that
instant. Broker rows a data migration left behind are reported and run at the start.

The template's name carries a hash of the migration state (every migration file of every
installed app, the installed apps, the Django version), so a changed migration builds a new
template and an unchanged one is reused across runs and processes. Each run gets
``CREATE DATABASE <run> TEMPLATE <template>`` (a file copy, far cheaper than migrating), the
Django connection is pointed at it for the run, and it is dropped afterwards. Building a new
template drops all but the newest ``TEMPLATES_KEPT`` (3) others, so migration states do not pile
up on the server. Works on the embedded server and on any ``DATABASE_URL`` whose user may create
databases.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import os
from collections.abc import Iterator
from typing import Any

from harness.errors import HarnessError
from harness.patching import Patches

_COUNTER = itertools.count(1)
TEMPLATE_FORMAT = "2: post_migrate deferred to each run's virtual start"
"""Part of the template key: a template built another way is another template."""
PREFIX = "dqh_run_"
TEMPLATE_PREFIX = "dqh_tpl_"
TEMPLATES_KEPT = 3
"""Templates kept per server: the newest ones, so switching branches does not rebuild often."""
_LOCK_KEY = int(hashlib.sha256(b"dq-harness templates").hexdigest()[:15], 16)
"""One advisory lock for every template operation: no clone can race a build or a prune."""


def migration_key() -> str:
    """A hash of what ``migrate`` would build."""
    import django
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    digest = hashlib.sha256(f"{django.get_version()} {TEMPLATE_FORMAT}".encode())
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for (app, name), migration in sorted(loader.disk_migrations.items()):
        digest.update(f"{app}.{name}".encode())
        path = getattr(__import__(migration.__module__, fromlist=["_"]), "__file__", None)
        if path and os.path.exists(path):
            with open(path, "rb") as fh:
                digest.update(fh.read())
    for config in apps.get_app_configs():
        digest.update(config.name.encode())
    return digest.hexdigest()[:16]


def _admin(settings: dict[str, Any]) -> Any:
    import psycopg

    from harness.infra.database import psycopg_kwargs

    try:
        return psycopg.connect(**psycopg_kwargs(settings, "postgres"), autocommit=True)
    except Exception as exc:
        raise HarnessError(f"cannot reach PostgreSQL to create a run database: {exc}") from None


def _exists(conn: Any, name: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
    )


def _point(connection: Any, name: str) -> None:
    connection.close()
    connection.settings_dict["NAME"] = name


def _build_template(conn: Any, connection: Any, template: str) -> None:
    """Migrate a staging database, then rename it into place (atomic publish)."""
    from django.core.management import call_command

    staging = f"{template}_build_{os.getpid()}"
    conn.execute(f'DROP DATABASE IF EXISTS "{staging}"')
    conn.execute(f'CREATE DATABASE "{staging}"')
    original = connection.settings_dict["NAME"]
    try:
        _point(connection, staging)
        with deferred_post_migrate():  # its rows are made at each run's virtual start
            call_command("migrate", verbosity=0, interactive=False, stdout=io.StringIO())
        call_command("createcachetable", verbosity=0, stdout=io.StringIO())
    finally:
        _point(connection, original)
    conn.execute(f'ALTER DATABASE "{staging}" RENAME TO "{template}"')


def _like(prefix: str) -> str:
    """A LIKE pattern for names starting with ``prefix`` (``_`` is a wildcard in LIKE)."""
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


def prune_templates(
    conn: Any, keep: int = TEMPLATES_KEPT, prefix: str = TEMPLATE_PREFIX
) -> list[str]:
    """Drop all but the ``keep`` newest templates (by creation order); return the dropped.

    Each migration state leaves a template behind; without this they pile up on the server.
    A template still in use (being cloned, or connected to) is skipped, and rebuilt on demand
    if a process needs it again. Call with the template lock held.
    """
    rows = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY oid DESC",
        (_like(prefix),),
    ).fetchall()
    dropped = []
    for (name,) in rows[keep:]:
        if conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = %s LIMIT 1", (name,)
        ).fetchone():
            continue  # connected to: DROP would wait 5 s for it, then fail
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        except Exception:  # in use by another session: leave it for a later prune
            continue
        dropped.append(name)
    return dropped


def _drop_stale(conn: Any) -> None:
    """Run databases of processes that died (their pid is in the name) are removed."""
    rows = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", (_like(PREFIX),)
    ).fetchall()
    for (name,) in rows:
        try:
            pid = int(name[len(PREFIX) :].split("_")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            with contextlib.suppress(Exception):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def fresh_database(alias: str = "default") -> Iterator[str]:
    """Point ``connections[alias]`` at a new copy of the migrated template for the block."""
    from django.db import connections

    connection = connections[alias]
    settings = dict(connection.settings_dict)
    template = f"{TEMPLATE_PREFIX}{migration_key()}"
    name = f"{PREFIX}{os.getpid()}_{next(_COUNTER)}"
    with _admin(settings) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            if not _exists(conn, template):
                _build_template(conn, connection, template)
                prune_templates(conn)
            _drop_stale(conn)
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    original = connection.settings_dict["NAME"]
    _point(connection, name)
    try:
        yield name
    finally:
        _point(connection, original)
        with _admin(settings) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
