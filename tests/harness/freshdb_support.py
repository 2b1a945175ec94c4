"""Small Django projects made in a tmp dir, and run databases held open in subprocesses, for the
tests of :mod:`harness.infra.freshdb` and :mod:`harness.infra.templates`."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

HOLD = Path(__file__).with_name("hold_database.py")
SETTINGS = """\
import os

from harness.infra.database import database_settings

SECRET_KEY = "not-a-secret"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = {apps!r} + [a for a in os.environ.get("EXTRA_APPS", "").split(",") if a]
DATABASES = {{"default": database_settings()}}
"""
BLOCKING_MIGRATION = """\
import time
from pathlib import Path

from django.db import migrations

GATE = Path({gate!r})


def wait_at_the_gate(apps, schema_editor):
    # The template build stays open here until the test opens the gate.
    (GATE / "building").touch()
    deadline = time.monotonic() + 120
    while not (GATE / "open").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the gate was never opened")
        time.sleep(0.05)


class Migration(migrations.Migration):
    operations = [migrations.RunPython(wait_at_the_gate)]
"""


def server_url() -> str:
    """A ``DATABASE_URL`` for the server the tests use (subprocesses then never register with,
    or start, the embedded server: a process in a PID namespace is pid 1 there)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from harness.infra.database import resolve

    s = resolve().settings
    return f"postgresql://{s['USER']}@{quote(s['HOST'], safe='')}:{s['PORT']}/postgres"


def unshare_prefix() -> list[str]:
    """A new PID namespace (and a /proc of its own), where the command runs as pid 1."""
    base = ["unshare", "--pid", "--fork", "--mount-proc"]
    return base if os.geteuid() == 0 else [*base, "--user", "--map-root-user"]


def make_project(root: Path, apps: list[str], gate: Path | None = None) -> Path:
    """A project whose settings module is ``proj.settings``; ``gate``: with an app whose
    migration touches ``gate/building``, then waits for ``gate/open`` to exist."""
    (root / "proj").mkdir(parents=True)
    (root / "proj" / "__init__.py").write_text("")
    if gate is not None:
        (root / "blocker" / "migrations").mkdir(parents=True)
        (root / "blocker" / "__init__.py").write_text("")
        (root / "blocker" / "migrations" / "__init__.py").write_text("")
        migration = BLOCKING_MIGRATION.format(gate=str(gate))
        (root / "blocker" / "migrations" / "0001_initial.py").write_text(migration)
        apps = [*apps, "blocker"]
    (root / "proj" / "settings.py").write_text(SETTINGS.format(apps=apps))
    return root


@dataclass
class Opened:
    pid: int
    name: str
    template: str
    oid: int


class Holder:
    """``hold_database.py`` in a subprocess: a run database opened and held until released."""

    def __init__(self, project: Path, *, namespace: bool = False, **env: str) -> None:
        argv = [sys.executable, str(HOLD)]
        environ = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "proj.settings",
            "PYTHONPATH": str(project),
            "DATABASE_URL": server_url(),
            **env,
        }
        self.proc = subprocess.Popen(
            [*unshare_prefix(), *argv] if namespace else argv,
            cwd=project,
            env=environ,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def line(self, timeout: float = 120) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.kill()
            raise AssertionError(f"no answer in {timeout} s: {self.proc.communicate()[1]}")
        text = self.proc.stdout.readline()
        if not text:
            raise AssertionError(f"ended (exit {self.proc.wait()}): {self.proc.stderr.read()}")
        return text.strip()

    def opened(self, timeout: float = 120) -> Opened:
        pid, name, template, oid = self.line(timeout).split()
        return Opened(int(pid), name, template, int(oid))

    def release(self, timeout: float = 60) -> str:
        """Let it go on; returns what it says about its database (``still NAME``)."""
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        said = self.line(timeout)
        assert self.proc.wait(timeout) == 0, self.proc.stderr.read()
        return said


def run_once(project: Path, *, namespace: bool = False, timeout: float = 120, **env: str) -> Opened:
    """Open a run database, release it at once; what was opened."""
    holder = Holder(project, namespace=namespace, **env)
    opened = holder.opened(timeout)
    assert holder.release() == f"still {opened.name}"
    return opened


MODEL_MIGRATION = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = {dependencies!r}
    operations = [{operation}]
"""


def add_migrations(root: Path, upto: int) -> None:
    """An app ``shop`` with migrations 0001 … ``upto``: an Item model, then one field each, as
    a project grows a migration per commit."""
    app = root / "shop"
    (app / "migrations").mkdir(parents=True, exist_ok=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    for n in range(1, upto + 1):
        if n == 1:
            operation = (
                "migrations.CreateModel('Item', [('id', models.AutoField(primary_key=True)), "
                "('name', models.CharField(max_length=50))])"
            )
            dependencies: list = []
        else:
            operation = (
                f"migrations.AddField('item', 'f{n}', models.IntegerField(default={n}, "
                "db_index=True))"
            )
            dependencies = [("shop", f"{n - 1:04d}_step")]
        text = MODEL_MIGRATION.format(dependencies=dependencies, operation=operation)
        (app / "migrations" / f"{n:04d}_step.py").write_text(text)
