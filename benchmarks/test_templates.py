"""Bisecting five commits that each add a migration: one full template build, four forward.

A project on its fortieth migration is bisected over five commits, each adding one migration
(a new migration state each). Twice, side by side: as the harness builds templates now (the
nearest template whose applied migrations are a subset, migrated forward), and as every state
would be built from nothing (each state a project of its own, so no template can be reused).
The row's counted work is the builds (full and incremental) and the migrations applied; the
figures go to docs/benchmarks.md ("Template builds").
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.db import connection

from harness.infra import freshdb, templates
from tests.harness.freshdb_support import add_migrations, make_project, run_once

BASE = 40  # migrations the project has before the bisected commits
STATES = 5


def _drop(admin, roots: list[Path]) -> None:
    for root in roots:
        prefix = templates.Project(str(root.resolve()), "proj.settings").prefix
        for name in templates.templates_by_use(admin, prefix):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _bisect(tmp: Path, shared: bool) -> dict:
    """Open a run database at each of the five states; what the template builds cost."""
    admin = freshdb._admin(dict(connection.settings_dict))
    roots: list[Path] = []
    builds = {"full": 0, "incremental": 0, "migrations": 0, "seconds": []}
    try:
        for i in range(STATES):
            root = tmp / ("one" if shared else f"state{i}")
            if not root.exists():
                make_project(root, ["django.contrib.contenttypes", "shop"])
                roots.append(root)
            add_migrations(root, BASE + i)
            t0 = time.perf_counter()
            opened = run_once(root, timeout=600)
            builds["seconds"].append(round(time.perf_counter() - t0, 2))
            note = templates.note_of(admin, opened.template)
            base = note.get("built_from")
            builds["incremental" if base else "full"] += 1
            before = len(templates.note_of(admin, base).get("migrations", [])) if base else 0
            builds["migrations"] += len(note["migrations"]) - before
        return builds
    finally:
        _drop(admin, roots)
        admin.close()


@pytest.mark.benchmark(group="templates")
@pytest.mark.parametrize("mode", ["incremental", "from-nothing"])
def test_bisect_five_migration_states(benchmark, tmp_path, mode) -> None:
    results: list[dict] = []
    counter = iter(range(100))

    def run() -> None:
        results.append(_bisect(tmp_path / f"round{next(counter)}", shared=mode == "incremental"))

    benchmark.pedantic(run, rounds=1, iterations=1)
    builds = results[-1]
    if mode == "incremental":
        assert (builds["full"], builds["incremental"]) == (1, STATES - 1)
    else:
        assert (builds["full"], builds["incremental"]) == (STATES, 0)
    benchmark.extra_info.update(
        group="templates",
        config=f"{STATES} states of a {BASE}-migration project, {mode}",
        builds=builds,
    )
