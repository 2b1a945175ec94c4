"""One PostgreSQL shared by many runs: of other projects, in other PID namespaces (containers,
CI jobs, ``sweep --tx`` hosts), killed ones. Each run is a subprocess (tests/harness/
hold_database.py) of a small project made in a tmp dir, opening a fresh run database."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.infra import freshdb, templates
from tests.harness.freshdb_support import Holder, make_project, run_once

pytestmark = pytest.mark.dbpath


@pytest.fixture
def project(tmp_path, admin):
    """``project(name, apps, blocker=None)`` makes a project; its templates are dropped after."""
    made = []

    def make(name: str, apps: list[str] | None = None, gate: Path | None = None):
        root = make_project(tmp_path / name, apps or ["django.contrib.contenttypes"], gate)
        made.append(templates.Project(str(root.resolve()), "proj.settings"))
        return root

    yield make
    for p in made:
        for name in templates.templates_by_use(admin, p.prefix):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _exists(admin, name: str) -> bool:
    return templates.exists(admin, name)


def _owned(admin, name: str) -> bool:
    """Whether a session holds the advisory lock of ``name`` (a bigint key: its high and low 32
    bits are pg_locks' classid and objid)."""
    key = templates.lock_key(name) & 0xFFFF_FFFF_FFFF_FFFF
    row = admin.execute(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted "
        "AND classid::bigint = %s AND objid::bigint = %s",
        (key >> 32, key & 0xFFFF_FFFF),
    ).fetchone()
    return row is not None


def _wait_unowned(admin, name: str) -> None:
    deadline = time.monotonic() + 30
    while _owned(admin, name):
        assert time.monotonic() < deadline, f"{name}'s lock outlived its owner"
        time.sleep(0.02)


def test_two_projects_replayed_alternately_rebuild_no_template(project, admin):
    """One template kept per project: yet neither evicts the other's, and a project's new
    migration state evicts only that project's older template."""
    a = project("a")
    b = project("b", ["django.contrib.contenttypes", "django.contrib.auth"])
    kept = {"HARNESS_TEMPLATES_KEPT": "1"}
    first = [run_once(a, **kept), run_once(b, **kept)]
    again = [run_once(a, **kept), run_once(b, **kept), run_once(a, **kept), run_once(b, **kept)]
    assert first[0].template != first[1].template
    # the same templates, never rebuilt (a rebuilt database has a new oid)
    assert [(o.template, o.oid) for o in again] == [(o.template, o.oid) for o in first] * 2
    changed = run_once(a, EXTRA_APPS="django.contrib.sessions", **kept)
    assert changed.template != first[0].template
    assert not _exists(admin, first[0].template)  # a's older state: evicted
    assert run_once(b, **kept).oid == first[1].oid  # b's: untouched


def test_a_replay_whose_template_exists_starts_while_another_template_builds(
    project, admin, tmp_path
):
    gate = tmp_path / "gate"
    gate.mkdir()
    a = project("a")
    b = project("b", gate=gate)  # its template's migrate waits at the gate
    run_once(a)  # a's template exists
    builder = Holder(b)
    try:
        deadline = time.monotonic() + 120
        while not (gate / "building").exists():  # b's build is inside its migration
            assert builder.proc.poll() is None, builder.proc.stderr.read()
            assert time.monotonic() < deadline, "the build never reached its migration"
            time.sleep(0.05)
        opened = run_once(a, timeout=60)  # a replay of a starts (and ends) meanwhile
        assert builder.proc.poll() is None  # b's build is still open
        b_prefix = templates.Project(str(b.resolve()), "proj.settings").prefix
        assert templates.templates_by_use(admin, b_prefix) == []
    finally:
        (gate / "open").touch()
    built = builder.opened()
    assert built.template.startswith(b_prefix) and built.name != opened.name
    assert builder.release() == f"still {built.name}"


def test_runs_in_separate_pid_namespaces_never_drop_each_others_database(project, admin):
    """Both runs are pid 1 in their namespaces: names pick no pid, and the second run's
    clean-up asks the server who owns the first's database, not this host's pids."""
    a = project("a")
    first = Holder(a, namespace=True)
    held = first.opened()
    second = run_once(a, namespace=True)  # opens, drops what is stale, closes
    assert held.pid == second.pid == 1
    assert held.name != second.name
    assert _exists(admin, held.name)
    assert first.release() == f"still {held.name}"  # usable to the end
    assert not _exists(admin, held.name) and not _exists(admin, second.name)


def test_a_killed_runs_database_is_dropped_by_the_next_run_and_a_live_one_is_not(project, admin):
    a = project("a")
    live, killed = Holder(a), Holder(a)
    live_db, killed_db = live.opened().name, killed.opened().name
    killed.proc.kill()  # SIGKILL: no clean-up of its own
    killed.proc.wait()
    assert _exists(admin, killed_db)
    _wait_unowned(admin, killed_db)  # its session ends just after the process: the lock goes
    assert _owned(admin, live_db)
    dropped = freshdb.drop_stale(admin)
    assert killed_db in dropped and live_db not in dropped
    assert not _exists(admin, killed_db) and _exists(admin, live_db)
    assert live.release() == f"still {live_db}"


def test_run_database_names_are_unique_and_start_with_a_letter_after_the_prefix():
    names = {freshdb.run_name() for _ in range(200)}
    assert len(names) == 200
    for name in names:
        assert name.startswith(freshdb.PREFIX) and len(name) <= 63
        assert name[len(freshdb.PREFIX)].isalpha()  # earlier versions read a pid there
