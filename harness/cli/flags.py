"""Flags several commands share: one definition each, so a flag means the same everywhere
(the spelling table: docs/api.md)."""

from __future__ import annotations

import argparse
import os

from harness.errors import HarnessError
from harness.spellings import deprecated

FAITHFUL = "run django-q2's own code everywhere (no accelerations; same timeline, slower)"


def add_database(parser: argparse.ArgumentParser) -> None:
    """``--database``: which PostgreSQL the replays' fresh databases are made on."""
    parser.add_argument(
        "--database",
        choices=("project", "harness"),
        default=None,
        help="'project': the settings' own PostgreSQL (default); 'harness': DATABASE_URL or "
        "the embedded server",
    )


def add_workers(parser: argparse.ArgumentParser) -> None:
    """``-n``: the same flag, default and meaning on every command that replays in parallel."""
    parser.add_argument(
        "-n",
        dest="workers",
        default="auto",
        help="parallel replays on pytest-xdist: a number, or auto (default); 1: in this process",
    )


class Renamed(argparse.Action):
    """An old flag, read as its new one for one release with a one-line deprecation
    (:mod:`harness.spellings`); hidden from ``--help``."""

    def __init__(self, option_strings: list[str], dest: str, new: str, **kw: object) -> None:
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kw)  # type: ignore[arg-type]
        self.new = new

    def __call__(self, parser: argparse.ArgumentParser, ns: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:  # fmt: skip
        deprecated(f"{parser.prog} {option_string}", f"{parser.prog} {self.new}")
        setattr(ns, self.dest, values)


def _workers_value(text: str) -> str:
    if text == "auto" or (text.isdigit() and int(text) > 0):
        return text
    raise HarnessError(f"-n {text!r}: a number of workers (1, 2, …) or auto")


def workers(text: str, jobs: int) -> int:
    """How many replays run at once (``auto``: one per CPU, at most one per job)."""
    value = _workers_value(text)
    return max(1, min(jobs, (os.cpu_count() or 1) if value == "auto" else int(value)))
