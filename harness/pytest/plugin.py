"""The harness's pytest plugin (registered through the ``pytest11`` entry point).

* fixtures (:mod:`harness.pytest.fixtures`): ``qsim`` (a running Simulation on the test's
  database), ``virtual_clock`` (just the clock), ``run_scenario`` and ``scenario`` (replays on
  fresh databases);
* markers (:mod:`harness.pytest.markers`): ``qsim(...)`` and ``scenario(ref, ...)``, validated
  with errors that list the accepted options;
* the report header: which database the run uses.

Loaded before Django is configured, so nothing imports Django or django-q2 at module level. What
the plugin keeps about a session lives on ``config.stash``, as pytest-django keeps its own, and
it reads the harness only through public functions (``harness.infra.database.resolved``).
"""

from __future__ import annotations

import pytest

from harness.infra.database import ResolvedDatabase, resolved  # imports nothing of Django
from harness.pytest.fixtures import qsim, run_scenario, scenario, virtual_clock
from harness.pytest.markers import help_lines

__all__ = ["qsim", "run_scenario", "scenario", "virtual_clock"]

database_key = pytest.StashKey[ResolvedDatabase | None]()
"""The database this session's settings resolved (None: they did not use the harness's)."""


def pytest_configure(config: pytest.Config) -> None:
    for line in help_lines():
        config.addinivalue_line("markers", line)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Note the database once every configure hook has run (pytest-django set Django up, so
    the settings module resolved it, if it uses the harness) and before the header is written."""
    session.config.stash[database_key] = resolved()


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say which database the run uses and how long it took to get it ready."""
    found = config.stash.get(database_key, None)
    if found is None:
        return None
    return f"dq-harness database: {found.description}, ready in {found.ready_seconds:.2f} s"
