"""Errors the harness reports as one line and exit code 2 (bad input, missing prerequisite)."""

from __future__ import annotations


class HarnessError(Exception):
    """Bad input or a missing prerequisite; the CLI prints ``str(exc)`` and exits 2."""
