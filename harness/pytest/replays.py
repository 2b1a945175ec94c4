"""The items of a parallel replay session (:mod:`harness.run.parallel`): one per job, made by a
pytest plugin rather than found in a test module.

``harness sweep`` and ``harness gate -n`` start pytest with ``-p harness.pytest.replays`` and the
jobs file (``$HARNESS_REPLAY_JOBS``) as the one path to collect; this plugin collects that file
into one item per job, the way pytest collects tests that are not Python files. Every
pytest-xdist worker (local, or behind ``--tx``) loads the plugin by name from the command line
and reads the same file, so all collect the same items in the same order, as xdist requires.
An item replays its job on a database of its own and writes the result beside the others.
Outside such a session the plugin is not loaded, and it collects nothing but that one file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.run.parallel import JOBS_ENV, Job, run_job


class ReplayJobs(pytest.File):
    """The jobs file: one item per job, in the file's order."""

    def collect(self) -> Iterator[ReplayItem]:
        for raw in json.loads(self.path.read_text(encoding="utf-8")):
            job = Job(**raw)
            yield ReplayItem.from_parent(self, name=job.id, job=job)


class ReplayItem(pytest.Item):
    """One replay. It passes whatever the run's verdict: the parent reads the JSON it wrote
    (or the error note it left) and reports the seed's outcome itself."""

    def __init__(self, *, job: Job, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job

    def runtest(self) -> None:
        run_job(self.job)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"replay {self.job.ref} ({self.job.id})"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ReplayJobs | None:
    """The jobs file the session was started for, and no other file."""
    jobs = os.environ.get(JOBS_ENV)
    if jobs and file_path.resolve() == Path(jobs).resolve():
        return ReplayJobs.from_parent(parent, path=file_path)
    return None
