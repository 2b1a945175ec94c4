"""harness.infra.freshdb: old templates are pruned, in-use ones are kept, LIKE wildcards are
escaped."""

from __future__ import annotations

import os

import psycopg
import pytest
from django.db import connection

from harness.infra import freshdb
from harness.infra.database import psycopg_kwargs


@pytest.fixture
def admin():
    conn = freshdb._admin(dict(connection.settings_dict))
    prefix = f"dqhtest{os.getpid()}_tpl_"
    decoy = f"dqhtest{os.getpid()}Xtpl_decoy"  # matches the prefix only if "_" is a wildcard
    names = [f"{prefix}{i}" for i in range(3)]
    for name in [*names, decoy]:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')  # created in order: oid grows
    yield conn, prefix, names, decoy
    for name in [*names, decoy]:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def _existing(conn, names):
    rows = conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (names,))
    return sorted(r[0] for r in rows.fetchall())


def test_keeps_the_newest_and_skips_one_in_use(admin):
    conn, prefix, names, decoy = admin
    # someone is connected to the oldest
    with psycopg.connect(**psycopg_kwargs(connection.settings_dict, names[0])):
        dropped = freshdb.prune_templates(conn, keep=1, prefix=prefix)
    assert dropped == [names[1]]
    assert _existing(conn, [*names, decoy]) == sorted([names[0], names[2], decoy])
    assert freshdb.prune_templates(conn, keep=1, prefix=prefix) == [names[0]]  # free now
    assert _existing(conn, [*names, decoy]) == sorted([names[2], decoy])
