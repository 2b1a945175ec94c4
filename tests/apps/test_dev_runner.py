"""Acceptance 3: ``make dev`` (``manage.py dev``) end to end, as a real subprocess.

Migrations, demo data and schedules on a fresh database; the admin answers 200; a provisioning
request made through the app (``manage.py provision_service``) is executed by a real
``qcluster`` process against the fake Virtualmin over real HTTP; Ctrl+C (SIGINT to the runner's
process group, as a terminal sends it) leaves no process behind.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import requests
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2] / "reference"  # the platform's manage.py
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _conninfo(dbname: str) -> dict[str, object]:
    db = settings.DATABASES["default"]
    info: dict[str, object] = {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"]}
    if db.get("PASSWORD"):
        info["password"] = db["PASSWORD"]
    return {**info, "dbname": dbname}


@pytest.fixture
def fresh_database() -> Iterator[str]:
    name = f"praho_devtest_{os.getpid()}"
    with psycopg.connect(**_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(**_conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _session_processes(sid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _wait_for(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_make_dev_serves_admin_runs_a_provisioning_task_and_stops_cleanly(fresh_database, tmp_path):
    db = _conninfo(fresh_database)
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.development",
        DATABASE_URL=(
            f"postgresql://{db['user']}@{quote(str(db['host']), safe='')}:{db['port']}/"
            f"{fresh_database}"
        ),
        PYTHONUNBUFFERED="1",
    )
    port = _free_port()
    log = tmp_path / "django_q.log"
    out = tmp_path / "runner.out"
    with out.open("wb") as sink:
        runner = subprocess.Popen(
            [sys.executable, "manage.py", "dev", "--port", str(port), "--log-file", str(log)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for(lambda: "Ready." in out.read_text(), 20, "the runner")
        vm_url = re.search(r"VIRTUALMIN_DEV_URL=(\S+)", out.read_text()).group(1)
        login = f"http://127.0.0.1:{port}/admin/login/"

        def admin_status() -> int:
            try:
                return urllib.request.urlopen(login, timeout=2).status
            except OSError:
                return 0

        assert _wait_for(admin_status, 10, "the admin") == 200

        service_id = re.search(r"service (\d+) \(demo-shop\.ro\)", out.read_text()).group(1)
        subprocess.run(
            [sys.executable, "manage.py", "provision_service", service_id],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )

        def job_status() -> str | None:
            with psycopg.connect(**db) as conn:
                row = conn.execute(
                    "SELECT status FROM provisioning_provisioningjob WHERE service_id = %s",
                    [int(service_id)],
                ).fetchone()
            return row[0] if row and row[0] in ("completed", "failed") else None

        assert _wait_for(job_status, 15, "the provisioning job") == "completed"
        listing = requests.get(
            f"{vm_url}/virtual-server/remote.cgi",
            params={"program": "list-domains", "json": "1"},
            auth=("admin", "secret"),
            timeout=5,
        ).json()
        assert [d["name"] for d in listing["data"]] == ["demo-shop.ro"]
        assert "✅ [Provisioning] Create demo-shop.ro successful" in log.read_text()

        # the dashboard URL printed on start serves the staff page with the task just run
        dash = re.search(r"Task dashboard on (\S+)", out.read_text()).group(1)
        assert dash == f"http://127.0.0.1:{port}/ops/dashboard/"
        session = requests.Session()
        session.get(login, timeout=5)
        form = {"username": "admin", "password": "admin", "next": "/ops/dashboard/"}
        form["csrfmiddlewaretoken"] = session.cookies["csrftoken"]
        page = session.post(login, data=form, timeout=10)
        assert page.status_code == 200 and page.url == dash
        assert (
            'data-func="apps.provisioning.virtualmin_tasks.provision_virtualmin_account"'
            in page.text
        )
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGINT)  # what Ctrl+C in the terminal does
        try:
            runner.wait(timeout=15)
        finally:
            leftovers = _session_processes(runner.pid)
            for pid in leftovers:
                os.kill(pid, signal.SIGKILL)
    assert runner.returncode == 0, out.read_text()[-2000:]
    assert "👋 Stopped." in out.read_text()
    assert leftovers == []
