"""The user's Django project: where it lives, which settings module, which database.

The harness is a library installed beside someone else's project, so it finds that project the
way ``manage.py`` does: the current directory is the project root and comes first on
``sys.path`` (a scenario may name another root and extra paths, relative to its file). The
settings module is ``--settings``, else the scenario's ``settings``, else
``DJANGO_SETTINGS_MODULE``. Every way this can go wrong — a module that does not import, settings
Django refuses, a database that is not PostgreSQL — is one line (:class:`ProjectError`, exit 2),
never a traceback.

``database`` chooses the PostgreSQL a replay runs on: ``"project"`` (the default) keeps the
project's own ``DATABASES['default']``; ``"harness"`` replaces its connection with the harness's
(``DATABASE_URL``, else the embedded server), for a machine with no PostgreSQL of its own or a
project whose settings name SQLite. Every replay still gets a fresh database on that server.

Nothing is written into the project: :func:`isolated_media` gives each replay a media folder of
its own.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, UserCodeError, one_line

DATABASE_CHOICES = ("project", "harness")
SETTINGS_ENV = "DJANGO_SETTINGS_MODULE"


class ProjectError(HarnessError):
    """The project cannot be set up: one line naming what and why."""


def add_paths(root: Path | None, extra: list[Path] | tuple[Path, ...] = ()) -> list[str]:
    """Put the project root (default: the current directory) and ``extra`` first on
    ``sys.path``, as ``manage.py`` has its own directory there. Returns the entries added."""
    entries = [str((root or Path.cwd()).resolve()), *(str(p.resolve()) for p in extra)]
    added = []
    for entry in reversed(entries):
        if entry in sys.path:
            sys.path.remove(entry)
        else:
            added.append(entry)
        sys.path.insert(0, entry)
    importlib.invalidate_caches()
    return added


def settings_module(explicit: str | None, scenario_settings: str | None, source: str) -> str:
    """``--settings`` > the scenario's ``settings`` > ``$DJANGO_SETTINGS_MODULE``."""
    module = explicit or scenario_settings or os.environ.get(SETTINGS_ENV, "").strip()
    if not module:
        raise ProjectError(
            f"{source}: no Django settings: pass --settings MODULE, set 'settings' in the "
            f"scenario, or export {SETTINGS_ENV}"
        )
    return module


def _import_settings(module: str) -> Any:
    from harness.infra.database import NoDatabaseExit

    try:
        return importlib.import_module(module)
    except NoDatabaseExit:
        raise  # its line is written: exit 2
    except SystemExit as exc:
        raise UserCodeError(f"settings: importing {module} exited: {one_line(exc)}") from None
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            raise ProjectError(
                f"settings: cannot import {module} (no module {exc.name!r} under "
                f"{Path.cwd()}; run from the project root or set project_root in the scenario)"
            ) from None
        raise ProjectError(f"settings: importing {module} failed: {one_line(exc)}") from None
    except Exception as exc:
        raise UserCodeError(f"settings: importing {module} failed: {one_line(exc)}") from None


def use_harness_database(mod: Any, module: str) -> None:
    """Point the settings module's ``DATABASES['default']`` at the harness's PostgreSQL."""
    from harness.infra.database import DatabaseUnavailable, resolve

    try:
        found = resolve()
    except DatabaseUnavailable as exc:
        raise ProjectError(str(exc)) from None
    databases = getattr(mod, "DATABASES", None)
    if not isinstance(databases, dict):
        databases = {}
        mod.DATABASES = databases
    entry = dict(databases.get("default") or {})
    for key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT"):
        entry[key] = found.settings[key]
    entry.setdefault("CONN_MAX_AGE", None)
    entry.pop("OPTIONS", None)  # a SQLite or other server's options mean nothing here
    databases["default"] = entry


def setup(module: str, database: str = "project") -> None:
    """Configure Django with ``module`` (once per process) and check the database engine."""
    import django
    from django.conf import settings

    if database not in DATABASE_CHOICES:
        raise ProjectError(f"database: {database!r} is not one of {', '.join(DATABASE_CHOICES)}")
    if settings.configured:
        current = getattr(settings, "SETTINGS_MODULE", None)
        if current and current != module:
            raise ProjectError(
                f"settings: this process already runs Django with {current}; cannot switch "
                f"to {module}"
            )
        return
    mod = _import_settings(module)
    if database == "harness":
        use_harness_database(mod, module)
    os.environ[SETTINGS_ENV] = module
    from harness.infra.database import NoDatabaseExit
    from harness.run.startup import watching

    try:
        with watching():  # ready()'s database work waits for the virtual start
            django.setup()
    except NoDatabaseExit:
        raise
    except SystemExit as exc:
        raise UserCodeError(f"settings: Django's start-up exited: {one_line(exc)}") from None
    except Exception as exc:
        raise ProjectError(f"settings: Django refused {module}: {one_line(exc)}") from None
    engine = settings.DATABASES.get("default", {}).get("ENGINE", "")
    if "postgresql" not in engine and "postgis" not in engine:
        raise ProjectError(
            f"settings: {module} uses {engine or 'no database'} for DATABASES['default']; the "
            "harness needs PostgreSQL (its row locks are what is under test): pass "
            "--database harness to replay on DATABASE_URL or an embedded server"
        )


@contextlib.contextmanager
def isolated_media() -> Iterator[Path]:
    """``MEDIA_ROOT`` — and every ``STORAGES`` location at or under it — moved to a temporary
    folder of this run, removed when the run ends: task code that saves files (exports, PDFs)
    never writes into the project's own media folder. A scenario's ``[override_settings]``
    is applied inside this, so a MEDIA_ROOT it names wins."""
    import shutil
    import tempfile

    from django.conf import settings
    from django.test.utils import override_settings

    folder = Path(tempfile.mkdtemp(prefix="harness-media-"))
    changes: dict[str, Any] = {"MEDIA_ROOT": str(folder)}
    storages = _moved_storages(getattr(settings, "STORAGES", None), settings.MEDIA_ROOT, folder)
    if storages is not None:
        changes["STORAGES"] = storages
    try:
        with override_settings(**changes):
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _moved_storages(storages: Any, media_root: Any, folder: Path) -> dict[str, Any] | None:
    """``STORAGES`` with each ``OPTIONS.location`` at or under ``media_root`` moved under
    ``folder`` (None: no location was set from it)."""
    if not media_root or not isinstance(storages, dict):
        return None
    root = Path(media_root).resolve()
    moved, changed = {}, False
    for alias, conf in storages.items():
        options = (conf or {}).get("OPTIONS") or {}
        location = options.get("location")
        if location and Path(location).resolve().is_relative_to(root):
            inside = Path(location).resolve().relative_to(root)
            conf = {**conf, "OPTIONS": {**options, "location": str(folder / inside)}}
            changed = True
        moved[alias] = conf
    return moved if changed else None
