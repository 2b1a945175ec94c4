"""harness.infra.templates: a project's templates are evicted by last use, never another
project's, never one being cloned or connected to; LIKE wildcards are escaped."""

from __future__ import annotations

import os
import time

import psycopg
import pytest
from django.db import connection

from harness.infra import freshdb, templates
from harness.infra.database import psycopg_kwargs

pytestmark = pytest.mark.dbpath


@pytest.fixture
def admin():
    conn = freshdb._admin(dict(connection.settings_dict))
    prefix = f"dqhtest{os.getpid()}_tpl_"
    other = f"dqhtest{os.getpid()}_other_0"  # another project's: older than all of them
    decoy = f"dqhtest{os.getpid()}Xtpl_decoy"  # matches the prefix only if "_" is a wildcard
    names = [f"{prefix}{i}" for i in range(3)]
    for name in [other, *names, decoy]:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')  # created in order: oid grows
    yield conn, prefix, names, [other, decoy]
    for name in [other, *names, decoy]:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def _existing(conn, names):
    rows = conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (names,))
    return sorted(r[0] for r in rows.fetchall())


def _disconnected(conn, name):
    """Wait for a closed session's backend to leave (it exits just after its client closes)."""
    deadline = time.monotonic() + 30
    while templates.connected(conn, name):
        assert time.monotonic() < deadline, f"a session stays connected to {name}"
        time.sleep(0.02)


def _use(conn, *names):
    project = templates.Project("/somewhere", "proj.settings")
    for name in names:
        templates.record_use(conn, name, project)


def test_the_least_recently_used_go_first_not_the_oldest(admin):
    conn, prefix, names, others = admin
    _use(conn, names[0], names[1], names[2], names[0])  # the oldest was used last
    assert templates.templates_by_use(conn, prefix) == [names[0], names[2], names[1]]
    assert templates.prune_templates(conn, prefix, keep=2) == [names[1]]
    assert _existing(conn, [*names, *others]) == sorted([names[0], names[2], *others])


def test_a_template_being_cloned_or_connected_to_is_kept(admin):
    conn, prefix, names, others = admin
    _use(conn, names[0], names[1], names[2])
    with psycopg.connect(**psycopg_kwargs(connection.settings_dict, "postgres")) as run:
        # a run about to clone names[1] holds its lock shared; someone is connected to names[0]
        run.execute("SELECT pg_advisory_lock_shared(%s)", (templates.lock_key(names[1]),))
        with psycopg.connect(**psycopg_kwargs(connection.settings_dict, names[0])):
            assert templates.prune_templates(conn, prefix, keep=1) == []
        _disconnected(conn, names[0])
        assert templates.prune_templates(conn, prefix, keep=1) == [names[0]]
    assert templates.prune_templates(conn, prefix, keep=1) == [names[1]]  # free now
    assert _existing(conn, [*names, *others]) == sorted([names[2], *others])


def test_excluded_and_other_projects_templates_are_never_dropped(admin):
    conn, prefix, names, others = admin
    assert templates.prune_templates(conn, prefix, keep=0, exclude=frozenset(names[:1])) == sorted(
        names[1:], reverse=True
    )
    assert _existing(conn, [*names, *others]) == sorted([names[0], *others])


def test_the_number_kept_is_read_from_the_environment(monkeypatch):
    from harness.errors import HarnessError

    monkeypatch.setenv(templates.KEPT_ENV, "5")
    assert templates.kept() == 5
    for bad in ("0", "-1", "three"):
        monkeypatch.setenv(templates.KEPT_ENV, bad)
        with pytest.raises(HarnessError, match=templates.KEPT_ENV):
            templates.kept()
