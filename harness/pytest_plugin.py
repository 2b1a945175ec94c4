"""The harness's pytest plugin (registered through the ``pytest11`` entry point).

Loaded by pytest in any project that installs the harness, before Django is configured, so it
imports nothing from Django or django-q2 at module level.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "qsim(**options): configure the in-process Django-Q2 simulation for a test"
    )
