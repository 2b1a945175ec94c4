"""The template cache: one migrated database per project and migration state, cloned per run.

A template is named ``dqh_tmpl_<project>_<migration key>``: *project* hashes the project's root
directory and its settings module (two checkouts, or two settings modules of one checkout, are
two projects), the *migration key* (:func:`migration_key`) hashes what ``migrate`` would build.
Its database comment records, as JSON, the project and the last time a run was cloned from it
(the server's clock, so hosts sharing a server agree).

Each template has a lock of its own, a PostgreSQL advisory lock keyed by its name:

* a clone holds it **shared** (many runs copy one template at once);
* a build holds it **exclusively**, so building one template never blocks a run whose template
  exists;
* a prune drops a template only after **trying** the exclusive lock: a template that a run is
  cloning, or is about to clone (it takes the lock, then looks for the template), is skipped.

A new migration state is built **incrementally** when it can: from the project's template whose
applied migrations (each by name and file digest, recorded in the template's comment) are the
largest subset of the new state's, copied and migrated forward (:func:`nearest_base`). A commit
that adds one migration pays for that migration, not for all ~130 (bisecting five commits that
each add one pays one full build). A changed or removed migration is never built on; the key
stays exact, and ``tests/harness/test_templates_incremental.py`` shows the incremental and the
full build give the same tables, columns, indexes and applied migrations.

Kept: the ``HARNESS_TEMPLATES_KEPT`` (default 3) most recently used templates of each project;
when a build adds one, the project's least recently used beyond that are dropped. Another
project's templates are never touched, nor a template anyone is connected to.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.patching import Patches

TEMPLATE_FORMAT = "2: post_migrate deferred to each run's virtual start"
"""Part of the template key: a template built another way is another template."""
TEMPLATE_PREFIX = "dqh_tmpl_"
STAGING_PREFIX = "dqh_stage_"
"""A template being migrated; renamed into place when done (atomic publish)."""
LEGACY_PREFIX = "dqh_tpl_"
"""Templates of earlier versions (one lock, three per server): dropped when nobody uses them."""
_LEGACY_LOCK = int(hashlib.sha256(b"dq-harness templates").hexdigest()[:15], 16)
TEMPLATES_KEPT = 3
"""Templates kept per project (``HARNESS_TEMPLATES_KEPT``): switching branches rarely rebuilds."""
KEPT_ENV = "HARNESS_TEMPLATES_KEPT"


def migration_state() -> dict[str, str]:
    """Every migration on disk, ``app.name`` → a digest of its file: what ``migrate`` would apply
    (a template whose applied migrations are a subset of this can be migrated forward)."""
    from django.db.migrations.loader import MigrationLoader

    state = {}
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for (app, name), migration in sorted(loader.disk_migrations.items()):
        path = getattr(__import__(migration.__module__, fromlist=["_"]), "__file__", None)
        digest = hashlib.sha256(f"{app}.{name}".encode())
        if path and os.path.exists(path):
            with open(path, "rb") as fh:
                digest.update(fh.read())
        state[f"{app}.{name}"] = digest.hexdigest()[:12]
    return state


def migration_key(state: dict[str, str] | None = None) -> str:
    """A hash of what ``migrate`` would build: the Django version, the template format, every
    migration file and the installed apps."""
    import django
    from django.apps import apps

    digest = hashlib.sha256(f"{django.get_version()} {TEMPLATE_FORMAT}".encode())
    for name, file_digest in sorted((state or migration_state()).items()):
        digest.update(f"{name}:{file_digest}".encode())
    for config in apps.get_app_configs():
        digest.update(config.name.encode())
    return digest.hexdigest()[:16]


def lock_key(name: str) -> int:
    """The advisory lock (a signed 64-bit key) that stands for the database ``name``."""
    digest = hashlib.sha256(f"dq-harness database {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def kept() -> int:
    """How many templates each project keeps (``HARNESS_TEMPLATES_KEPT``, default 3)."""
    raw = os.environ.get(KEPT_ENV, "").strip()
    if not raw:
        return TEMPLATES_KEPT
    if not raw.isdigit() or int(raw) < 1:
        raise HarnessError(f"{KEPT_ENV}={raw!r}: expected a whole number of templates, 1 or more")
    return int(raw)


@dataclass(frozen=True)
class Project:
    """Whose template: the project's root directory and settings module."""

    root: str
    settings: str

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.root}\0{self.settings}".encode()).hexdigest()[:8]

    @property
    def prefix(self) -> str:
        return f"{TEMPLATE_PREFIX}{self.key}_"

    def template(self, migrations: str) -> str:
        return f"{self.prefix}{migrations}"


def current_project() -> Project:
    """The running project: its settings module and the folder that module's package is in
    (the folder ``manage.py`` would be in)."""
    from django.conf import settings

    module = getattr(settings, "SETTINGS_MODULE", None) or ""
    top = sys.modules.get(module.split(".")[0]) if module else None
    if top is not None and getattr(top, "__path__", None):
        root = Path(next(iter(top.__path__))).parent
    elif top is not None and getattr(top, "__file__", None):
        root = Path(top.__file__).parent
    else:  # settings.configure(): no module, the current directory stands for the project
        root = Path.cwd()
    return Project(str(root.resolve()), module or "<configured>")


def _ident(name: str) -> Any:
    from psycopg import sql

    return sql.Identifier(name)


def execute(conn: Any, statement: str, *names: str) -> None:
    """Run a statement whose ``{}`` placeholders are database names (quoted as identifiers)."""
    from psycopg import sql

    conn.execute(sql.SQL(statement).format(*(_ident(n) for n in names)))


def exists(conn: Any, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def connected(conn: Any, name: str) -> bool:
    """Whether any session is connected to ``name`` (DROP would wait 5 s for it, then fail).
    Autovacuum does not count: DROP DATABASE stops it itself."""
    row = conn.execute(
        "SELECT 1 FROM pg_stat_activity WHERE datname = %s "
        "AND backend_type <> 'autovacuum worker' LIMIT 1",
        (name,),
    ).fetchone()
    return row is not None


def try_lock(conn: Any, key: int) -> bool:
    return bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])


def unlock(conn: Any, key: int) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def point(connection: Any, name: str) -> None:
    """Point a Django connection at the database ``name`` (reconnects on next use)."""
    connection.close()
    connection.settings_dict["NAME"] = name


def like(prefix: str) -> str:
    """A LIKE pattern for names starting with ``prefix`` (``_`` is a wildcard in LIKE)."""
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


def note_of(conn: Any, name: str) -> dict[str, Any]:
    """What a template's comment says of it (``{}`` when it says nothing readable)."""
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        (name,),
    ).fetchone()
    try:
        note = json.loads((row[0] if row else None) or "{}")
    except (ValueError, TypeError):
        return {}
    return note if isinstance(note, dict) else {}


def write_note(conn: Any, template: str, **fields: Any) -> None:
    """Add ``fields`` to the template's comment (JSON). Best effort: a comment that cannot be
    written (another role owns the template) only makes it look older, or not a base."""
    from psycopg import sql

    note = {**note_of(conn, template), "dq-harness": "template", **fields}
    text = json.dumps(note, sort_keys=True)
    with contextlib.suppress(Exception):
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(_ident(template), sql.Literal(text))
        )


def record_use(conn: Any, template: str, project: Project) -> None:
    """Write who the template is for and when it was last cloned into its comment."""
    now = conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()[0]
    write_note(
        conn, template, project=project.root, settings=project.settings, used=round(float(now), 6)
    )


def templates_by_use(conn: Any, prefix: str) -> list[str]:
    """The templates whose names start with ``prefix``, most recently used first."""
    rows = conn.execute(
        "SELECT datname, shobj_description(oid, 'pg_database'), oid::bigint FROM pg_database "
        "WHERE datname LIKE %s",
        (like(prefix),),
    ).fetchall()

    def used(row: tuple[str, str | None, int]) -> tuple[float, int]:
        try:
            return float(json.loads(row[1] or "{}").get("used", 0)), row[2]
        except (ValueError, TypeError, AttributeError):
            return 0.0, row[2]

    return [row[0] for row in sorted(rows, key=used, reverse=True)]


def _drop_unused(conn: Any, name: str, key: int) -> bool:
    """Drop ``name`` if nobody holds ``key`` and nobody is connected; whether it was dropped."""
    if not try_lock(conn, key):
        return False  # being cloned, built, or about to be cloned
    try:
        if connected(conn, name):
            return False
        execute(conn, "DROP DATABASE IF EXISTS {}", name)
        return True
    except Exception:  # someone connected meanwhile: a later prune tries again
        return False
    finally:
        unlock(conn, key)


def prune_templates(
    conn: Any, prefix: str, keep: int, exclude: frozenset[str] = frozenset()
) -> list[str]:
    """Drop all but the ``keep`` most recently used templates under ``prefix`` (one project's);
    return the dropped. A template in use, or in ``exclude``, is left alone."""
    dropped = []
    for name in templates_by_use(conn, prefix)[keep:]:
        if name not in exclude and _drop_unused(conn, name, lock_key(name)):
            dropped.append(name)
    return dropped


def prune_legacy(conn: Any) -> list[str]:
    """Templates an earlier version left (``dqh_tpl_…``), when no run of it holds its lock."""
    rows = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", (like(LEGACY_PREFIX),)
    ).fetchall()
    return [name for (name,) in rows if _drop_unused(conn, name, _LEGACY_LOCK)]


def clone(conn: Any, connection: Any, name: str) -> str:
    """Create the database ``name`` from the project's template, building it if missing; return
    the template's name. ``conn`` is an autocommit admin connection, ``connection`` Django's."""
    keep = kept()  # a bad HARNESS_TEMPLATES_KEPT is refused before anything is built
    project = current_project()
    state = migration_state()
    template = project.template(migration_key(state))
    key = lock_key(template)
    conn.execute("SELECT pg_advisory_lock_shared(%s)", (key,))
    try:
        if exists(conn, template):
            execute(conn, "CREATE DATABASE {} TEMPLATE {}", name, template)
            record_use(conn, template, project)
            return template
    finally:
        conn.execute("SELECT pg_advisory_unlock_shared(%s)", (key,))
    conn.execute("SELECT pg_advisory_lock(%s)", (key,))  # only this template's builders wait
    try:
        built = not exists(conn, template)
        if built:
            _build(conn, connection, template, project, state)
        execute(conn, "CREATE DATABASE {} TEMPLATE {}", name, template)
        record_use(conn, template, project)
        if built:
            prune_templates(conn, project.prefix, keep, frozenset({template}))
            prune_legacy(conn)
    finally:
        unlock(conn, key)
    return template


def staging_name(template: str) -> str:
    return STAGING_PREFIX + template[len(TEMPLATE_PREFIX) :]


def nearest_base(conn: Any, project: Project, state: dict[str, str]) -> str | None:
    """The project's template with the most applied migrations that are all in ``state`` (same
    name, same file), built by this Django and template format: migrating it forward builds the
    new state. None: nothing to start from (a full build)."""
    import django

    wanted = {f"{k}:{v}" for k, v in state.items()}
    best, best_size = None, 0
    for name in templates_by_use(conn, project.prefix):
        note = note_of(conn, name)
        applied = set(note.get("migrations") or [])
        if (
            applied
            and applied <= wanted
            and len(applied) > best_size
            and note.get("django") == django.get_version()
            and note.get("format") == TEMPLATE_FORMAT
        ):
            best, best_size = name, len(applied)
    return best


def _build(
    conn: Any, connection: Any, template: str, project: Project, state: dict[str, str]
) -> None:
    """Migrate a staging database — a copy of the nearest template whose migrations are a
    subset of ``state`` (incremental), else an empty one — then rename it into place. Called
    with the template's lock held exclusively, so a staging database of that name is a dead
    builder's leftover. The template records what it applied and what it was built from."""
    import time

    import django
    from django.core.management import call_command

    staging = staging_name(template)
    execute(conn, "DROP DATABASE IF EXISTS {} WITH (FORCE)", staging)
    base = _create_staging(conn, project, state, staging)
    original = connection.settings_dict["NAME"]
    started = time.perf_counter()
    try:
        point(connection, staging)
        with deferred_post_migrate():  # its rows are made at each run's virtual start
            call_command("migrate", verbosity=0, interactive=False, stdout=io.StringIO())
        call_command("createcachetable", verbosity=0, stdout=io.StringIO())
    except BaseException:
        point(connection, original)
        with contextlib.suppress(Exception):
            execute(conn, "DROP DATABASE IF EXISTS {} WITH (FORCE)", staging)
        raise
    point(connection, original)
    execute(conn, "ALTER DATABASE {} RENAME TO {}", staging, template)
    write_note(
        conn,
        template,
        migrations=sorted(f"{k}:{v}" for k, v in state.items()),
        django=django.get_version(),
        format=TEMPLATE_FORMAT,
        built_from=base,
        build_seconds=round(time.perf_counter() - started, 3),
    )


def _create_staging(conn: Any, project: Project, state: dict[str, str], staging: str) -> str | None:
    """The staging database, copied from the nearest base when one can be locked; its name."""
    base = nearest_base(conn, project, state)
    if base is not None:
        base_key = lock_key(base)
        conn.execute("SELECT pg_advisory_lock_shared(%s)", (base_key,))  # no prune meanwhile
        try:
            if exists(conn, base):
                execute(conn, "CREATE DATABASE {} TEMPLATE {}", staging, base)
                return base
        except Exception:  # someone is connected to it: build from scratch instead
            pass
        finally:
            conn.execute("SELECT pg_advisory_unlock_shared(%s)", (base_key,))
    execute(conn, "CREATE DATABASE {}", staging)
    return None


@contextlib.contextmanager
def deferred_post_migrate() -> Iterator[None]:
    """``migrate`` without its ``post_migrate`` signal, for building the template database.

    ``post_migrate`` handlers create rows that read the clock (a schedule's ``next_run =
    now()``); built into the template in real time they would carry today's date into every
    virtual window. The runner sends the signal itself at each run's virtual start
    (:func:`harness.infra.freshdb.emit_post_migrate`), as ``migrate`` would at a deploy then.
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
