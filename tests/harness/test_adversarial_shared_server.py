"""Kills against the shared embedded PostgreSQL: however a replay dies, the server's bookkeeping
stays true — it is stopped when its last holder is gone (the next holder to exit normally stops
it, when the last one could not), and no run database is left on it.

The server here is one of the test's own (``HARNESS_PG_DIR`` in a temporary folder), so the
suite's shared server is never disturbed. The processes are real: ``harness replay`` of a small
project, and a "holder" that only resolves the database, as a settings module or a ``qcluster``
does. Each case is a row of :data:`KILLS`; the rows run in order, against one server, each
leaving what it leaves for the next.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HARNESS = Path(sys.executable).parent / "harness"
SCENARIO = """
description = "A noop task a minute for a week: long enough to be killed mid-run"
settings = "killsettings"
start = 2026-03-01T08:00:00Z
duration = "7d"

[[load]]
call = "killtasks.enqueue"
args = ["{n}"]
every = "1m"

[expect]
checks = ["lost-jobs"]
"""
SETTINGS = """
SECRET_KEY = "not-a-secret"
USE_TZ = True
INSTALLED_APPS = ["django_q"]
Q_CLUSTER = {"name": "kills", "orm": "default", "timeout": 30, "retry": 60}
"""
TASKS = """
from django_q.tasks import async_task


def noop(n):
    return n


def enqueue(n):
    return async_task("killtasks.noop", n)
"""
HOLDER = (
    "import sys\n"
    "from harness.infra.database import resolve\n"
    "resolve()\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n"
)
"""A process that only holds the server (as a settings module calling ``database_settings``)."""


@dataclass(frozen=True)
class Kill:
    """One kill: ``moment`` is "registered" (its pid is in the server's list) or "running" (its
    run database exists); ``exit`` how it ends (negative: killed by that signal); ``stops``
    whether the server is stopped once it is gone (it was the last holder and ran its exit
    hooks; a SIGKILL leaves the server up, for the next holder to stop)."""

    process: str  # "replay" (harness replay) | "holder" (only resolves the database)
    signal: signal.Signals
    moment: str
    exit: int
    stops: bool


KILLS = [
    Kill("replay", signal.SIGKILL, "running", -9, stops=False),
    # alone with the SIGKILLed replay's pid in the list: stops only if that pid is known dead
    Kill("replay", signal.SIGTERM, "running", 143, stops=True),
    Kill("replay", signal.SIGKILL, "registered", -9, stops=False),
    Kill("holder", signal.SIGTERM, "registered", -15, stops=False),  # no exit hooks: like -9
    Kill("replay", signal.SIGTERM, "registered", 143, stops=True),
    Kill("replay", signal.SIGKILL, "running", -9, stops=False),
]


@pytest.fixture
def world() -> Iterator[tuple[Path, Path]]:
    """(project, data root): a small project and a server of the test's own, stopped after."""
    base = Path(tempfile.mkdtemp(prefix="dq-harness-kills-"))
    project, root = base / "project", base / "pg"
    (project / "scenarios").mkdir(parents=True)
    (project / "scenarios" / "long.toml").write_text(SCENARIO)
    (project / "killsettings.py").write_text(SETTINGS)
    (project / "killtasks.py").write_text(TASKS)
    yield project, root
    postmaster = _postmaster(root)
    if postmaster:  # a failed test may leave it up
        os.kill(postmaster[0], signal.SIGINT)  # PostgreSQL's fast shutdown
        _until(lambda: _postmaster(root) is None, "the server to stop")
    shutil.rmtree(base, ignore_errors=True)


def _env(root: Path) -> dict[str, str]:
    drop = ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "HARNESS_SCENARIOS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["HARNESS_PG_DIR"] = str(root)
    return env


def _start(what: str, project: Path, root: Path, *extra: str) -> subprocess.Popen[str]:
    if what == "replay":
        argv = [str(HARNESS), "replay", "long", "--database", "harness", "--no-progress", *extra]
    else:
        argv = [sys.executable, "-c", HOLDER]
    return subprocess.Popen(
        argv,
        cwd=project,
        env=_env(root),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _until(condition: Callable[[], object], what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + 120
    while True:
        found = condition()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"ended (exit {proc.returncode}) before {what}: {proc.stderr}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _postmaster(root: Path) -> tuple[int, str, int] | None:
    """(pid, socket dir, port) of the running server, or None when it is stopped."""
    try:
        lines = (root / "data" / "postmaster.pid").read_text().splitlines()
        pid, port, sockets = int(lines[0]), int(lines[3]), lines[4]
    except (FileNotFoundError, IndexError, ValueError):  # absent, or being written
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid, sockets, port


def _listed(root: Path) -> list[int]:
    path = root / "data" / ".handle_pids.json"
    return json.loads(path.read_text() or "[]") if path.exists() else []


def _run_databases(root: Path) -> set[str] | None:
    """The run databases on the server, or None if it does not answer now."""
    import psycopg

    postmaster = _postmaster(root)
    if postmaster is None:
        return None
    _, host, port = postmaster
    try:
        with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres") as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'dqh\\_run\\_%'"
            ).fetchall()
    except psycopg.OperationalError:  # starting or stopping
        return None
    return {name for (name,) in rows}


def _reached(kill: Kill, proc: subprocess.Popen[str], root: Path, before: set[str]) -> None:
    if kill.process == "holder":
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    if kill.moment == "registered":
        _until(lambda: proc.pid in _listed(root), "its pid in the list", proc)
    else:  # a run database that was not there before it started
        _until(lambda: (_run_databases(root) or before) - before, "its run database", proc)


def test_replays_killed_in_a_loop_leave_the_server_stopped_and_no_run_database(world):
    project, root = world
    first = _start("replay", project, root, "--until", "1h")  # builds the template
    assert first.wait(timeout=180) == 0, first.communicate()
    assert _postmaster(root) is None  # its only holder exited: stopped
    for kill in KILLS:
        before = _run_databases(root) or set()
        proc = _start(kill.process, project, root)
        _reached(kill, proc, root, before)
        proc.send_signal(kill.signal)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == kill.exit, (kill, err)
        if kill.exit == 143:
            assert err.strip().splitlines()[-1] == "harness: interrupted (SIGTERM)", err
        assert (_postmaster(root) is None) is kill.stops, (kill, _listed(root))
    final = _start("replay", project, root, "--until", "1h")  # a normal run, after them all
    assert final.wait(timeout=180) == 0, final.communicate()
    assert _postmaster(root) is None, _listed(root)  # the dead holders were forgotten
    # and no run database is left: ask a process that holds the server while it looks
    look = subprocess.run(
        [sys.executable, "-c", _LOOK], env=_env(root), capture_output=True, text=True, timeout=120
    )
    assert look.returncode == 0, look.stderr
    assert json.loads(look.stdout) == []
    assert _postmaster(root) is None and _listed(root) == []
    assert list((root / "data" / ".harness_holders").iterdir()) == []


_LOOK = """
import json, psycopg
from harness.infra.database import psycopg_kwargs, resolve
with psycopg.connect(**psycopg_kwargs(resolve().settings, "postgres")) as conn:
    rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'dqh_run_%'")
    print(json.dumps([name for (name,) in rows]))
"""


def test_a_live_holder_keeps_the_server_and_a_killed_one_is_forgotten(world):
    """Forgetting the dead never forgets the living: with one holder alive and one SIGKILLed,
    a normal run leaves the server up for the live one, which stops it when it exits."""
    project, root = world
    live, dead = _start("holder", project, root), _start("holder", project, root)
    for proc in (live, dead):
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    dead.kill()
    dead.wait(timeout=60)
    done = subprocess.run(
        [str(HARNESS), "db"], cwd=project, env=_env(root), capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert _postmaster(root) is not None
    assert _listed(root) == [live.pid]
    live.communicate("\n", timeout=60)
    assert live.returncode == 0
    assert _postmaster(root) is None and _listed(root) == []
