"""A new migration state is migrated forward from the nearest cached template whose applied
migrations are a subset of it (a commit that adds a migration pays for that migration only), and
what that builds is the same database a full build gives."""

from __future__ import annotations

import pytest
from django.db import connection

from harness.infra import templates
from tests.harness.freshdb_support import add_migrations, make_project, run_once

pytestmark = pytest.mark.dbpath

APPS = ["django.contrib.contenttypes", "shop"]


@pytest.fixture
def made(tmp_path, admin):
    roots = []

    def make(name: str, upto: int):
        root = tmp_path / name
        if not root.exists():
            make_project(root, APPS)
            roots.append(root)
        add_migrations(root, upto)
        return root

    yield make
    for root in roots:
        prefix = templates.Project(str(root.resolve()), "proj.settings").prefix
        for name in templates.templates_by_use(admin, prefix):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _schema(admin, database: str) -> dict:
    """Tables, columns, indexes and applied migrations of ``database``, as comparable sets."""
    import psycopg

    from harness.infra.database import psycopg_kwargs

    with psycopg.connect(**psycopg_kwargs(dict(connection.settings_dict), database)) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public'"
        ).fetchall()
        indexes = conn.execute(
            "SELECT tablename, regexp_replace(indexdef, 'INDEX \\S+ ON', 'INDEX ON') "
            "FROM pg_indexes WHERE schemaname = 'public'"
        ).fetchall()
        applied = conn.execute("SELECT app, name FROM django_migrations").fetchall()
    return {"columns": set(columns), "indexes": set(indexes), "applied": set(applied)}


def test_five_migration_states_pay_one_full_build(made, admin):
    root = made("grows", 1)
    built = []
    for upto in range(1, 6):  # five commits, each adding a migration
        made("grows", upto)
        opened = run_once(root)
        note = templates.note_of(admin, opened.template)
        built.append(note.get("built_from"))
        assert len(note["migrations"]) == len(_schema(admin, opened.template)["applied"])
    assert built[0] is None  # the first state: a full build
    assert all(base is not None for base in built[1:])  # every later one: from the one before
    # the same database as a full build of the last state (another project: nothing to reuse)
    full = run_once(made("fresh", 5))
    assert templates.note_of(admin, full.template)["built_from"] is None
    assert _schema(admin, opened.template) == _schema(admin, full.template)


def test_a_changed_migration_is_never_a_base(made, admin):
    root = made("edits", 2)
    first = run_once(root)
    migration = root / "shop" / "migrations" / "0002_step.py"
    migration.write_text(migration.read_text().replace("default=2", "default=20"))
    second = run_once(root)
    assert second.template != first.template
    assert templates.note_of(admin, second.template)["built_from"] is None
