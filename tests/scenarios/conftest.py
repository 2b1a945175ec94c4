"""Fixtures of the scenario and CLI tests."""

from __future__ import annotations

import pytest

from harness.cli import main


@pytest.fixture
def cli(django_db_blocker, capsys):
    """``cli("replay", path, ...)`` → (exit code, stdout, stderr): the real entry point."""

    def run(*argv: str) -> tuple[int, str, str]:
        with django_db_blocker.unblock():
            code = main([*argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
