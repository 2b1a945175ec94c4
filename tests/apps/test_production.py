"""The reference platform's production entry points, as a deployment runs them: ``manage.py``
and ``config/wsgi.py`` in a subprocess from reference/, with the environment docs/platform.md
documents (a missing variable is one line), and ``check --deploy`` with no issue."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.freshdb_support import server_url

REFERENCE = Path(__file__).resolve().parents[2] / "reference"
DOCUMENTED = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "praho.example.ro",
    "DATABASE_URL": server_url(),
}
"""The environment of docs/platform.md's "Production" (a generated key, the tests' server)."""
PRODUCTION = "config.settings.production"


def _run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    drop = ("DJANGO_SETTINGS_MODULE", *DOCUMENTED)
    environ = {k: v for k, v in os.environ.items() if k not in drop}
    environ.update(env)
    return subprocess.run(
        [sys.executable, *argv],
        cwd=REFERENCE,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_with_the_production_settings_has_no_issue():
    argv = ["manage.py", "check", "--deploy", "--settings", PRODUCTION]
    proc = _run(argv, **DOCUMENTED)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "System check identified no issues (0 silenced)."
    assert "WARNINGS" not in proc.stderr and "security." not in proc.stderr


WSGI = (
    "import os, config.wsgi\n"
    "from django.conf import settings\n"
    "print(os.environ['DJANGO_SETTINGS_MODULE'], settings.DEBUG, settings.SECURE_SSL_REDIRECT)\n"
)


@pytest.mark.parametrize(
    "argv,prog,missing",
    [
        (["manage.py", "check", "--settings", PRODUCTION], "manage.py", "DJANGO_SECRET_KEY"),
        (["manage.py", "migrate", "--check"], "manage.py", "DJANGO_SECRET_KEY"),  # by env
        (["-c", WSGI], "config.wsgi", "DJANGO_SECRET_KEY"),
        (["manage.py", "check", "--settings", PRODUCTION], "manage.py", "DATABASE_URL"),
    ],
    ids=["manage-settings-flag", "manage-settings-env", "wsgi", "manage-no-database-url"],
)
def test_a_missing_variable_in_production_is_one_line(
    argv: list[str], prog: str, missing: str
) -> None:
    env = {k: v for k, v in DOCUMENTED.items() if k != missing}
    if argv[0] == "manage.py" and "--settings" not in argv:
        env["DJANGO_SETTINGS_MODULE"] = PRODUCTION
    proc = _run(argv, **env)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "KeyError" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"{prog}: error: {missing} is not set: {PRODUCTION} needs it "
        "(see docs/platform.md, Production)"
    ]


def test_wsgi_serves_production_and_manage_py_development_by_default():
    served = _run(["-c", WSGI], **DOCUMENTED)
    assert served.returncode == 0, served.stderr
    assert served.stdout.split() == ["config.settings.production", "False", "True"]
    shell = "import os; from django.conf import settings; "
    shell += "print(os.environ['DJANGO_SETTINGS_MODULE'], settings.DEBUG)"
    database = DOCUMENTED["DATABASE_URL"]
    managed = _run(["manage.py", "shell", "--verbosity", "0", "-c", shell], DATABASE_URL=database)
    assert managed.returncode == 0, managed.stderr
    assert managed.stdout.split() == ["config.settings.development", "True"]
