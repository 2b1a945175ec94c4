"""The test items of a parallel replay session (:mod:`harness.run.parallel`): one per job.

pytest-xdist hands these items to its workers; each replays one scenario/seed on a database of
its own and writes the result beside the others. Collected only when ``HARNESS_REPLAY_JOBS``
names a jobs file (``harness sweep`` and ``harness gate -n`` set it); never part of a project's
own test run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.run.parallel import JOBS_ENV, Job, run_job


def _jobs() -> list[Job]:
    path = os.environ.get(JOBS_ENV)
    if not path:
        return []
    return [Job(**raw) for raw in json.loads(Path(path).read_text(encoding="utf-8"))]


_JOBS = _jobs()


@pytest.mark.parametrize("job", _JOBS, ids=[job.id for job in _JOBS])
def test_replay(job: Job) -> None:
    run_job(job)
