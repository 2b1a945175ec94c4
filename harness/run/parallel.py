"""Many replays at once, on pytest-xdist: ``harness sweep`` (one scenario, many seeds) and
``harness gate -n`` (many scenarios).

We do not write a process pool: pytest-xdist already schedules work over local processes
(``-n auto``) and remote hosts (``--tx ssh=host//python=…``), load-balances, and reports a
crashed worker. Each replay is one item of the session, made from the jobs file by the plugin
:mod:`harness.pytest.replays` (no test module: the library ships none); each runs
:func:`harness.run.runner.run`, which gives it a database of its own (a fresh copy of the
migrated template), so replays never share state and a seed gives the same bytes in a sweep as
alone. An item writes the run's JSON (``harness judge`` reads it) and its timeline next to it;
this module reads them back.

The session is isolated from the project's own pytest set-up: an empty ini file (the project's
``addopts`` and ``DJANGO_SETTINGS_MODULE`` do not apply), ``PYTEST_ADDOPTS`` cleared,
pytest-django off (our replays open their own databases).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

JOBS_ENV = "HARNESS_REPLAY_JOBS"
ITEMS_PLUGIN = "harness.pytest.replays"
"""The pytest plugin that turns the jobs file into items (loaded by name: ``--tx`` workers too)."""


@dataclass(frozen=True)
class Job:
    """One replay: a scenario reference, a seed (None: the scenario's), an end, where to write."""

    id: str
    ref: str
    out: str  # the run's JSON; the timeline is written beside it as .jsonl
    seed: int | None = None
    until: str | None = None  # ISO instant
    settings: str | None = None
    database: str | None = None
    baseline: str | None = None  # a baseline file (absolute path)
    faithful: bool = False  # django-q2's own code everywhere (no accelerations)

    @property
    def timeline_path(self) -> Path:
        return Path(self.out).with_suffix(".jsonl")


@dataclass
class Outcome:
    """What a job left behind: ``ok`` and failed checks from its JSON, or ``error`` if none."""

    job: Job
    ok: bool = False
    failed: list[str] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)  # failed check → its message
    command: str = ""
    error: str | None = None  # the replay raised, or its worker crashed: no JSON written


def parse_seeds(text: str) -> list[int]:
    """``1..200``, ``3,7,9`` or a mix (``1..5,9``): seeds in the order given, no repeats."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            if ".." in part:
                lo, hi = (int(x) for x in part.split("..", 1))
                if hi < lo:
                    raise ValueError
                seeds += range(lo, hi + 1)
            else:
                seeds.append(int(part))
        except ValueError:
            raise HarnessError(
                f"--seeds: {part!r} is not a seed or a range like 1..200 (e.g. 1..200 or 3,7,9)"
            ) from None
    if any(s < 0 for s in seeds):
        raise HarnessError("--seeds: seeds are non-negative integers")
    return list(dict.fromkeys(seeds))


def run_jobs(
    jobs: Sequence[Job], workdir: Path, workers: str = "auto", tx: Sequence[str] = ()
) -> list[Outcome]:
    """Run ``jobs`` on pytest-xdist (``workers``: ``-n`` value; ``tx``: remote specs)."""
    workdir.mkdir(parents=True, exist_ok=True)
    jobs_file = workdir / "jobs.json"
    jobs_file.write_text(json.dumps([asdict(j) for j in jobs], indent=1), encoding="utf-8")
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")  # none of the project's pytest set-up
    for job in jobs:
        Path(job.out).unlink(missing_ok=True)
        job.timeline_path.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "pytest", str(jobs_file), "-p", ITEMS_PLUGIN]
    argv += ["-c", str(ini), "--rootdir", str(workdir)]
    argv += ["-p", "no:django", "-p", "no:cacheprovider", "-q", "--no-header", "-rN"]
    # --tx alone runs every item in this process: --dist=load sends them to the gateways
    argv += ["--dist=load", *(f"--tx={spec}" for spec in tx)] if tx else ["-n", workers]
    env = {**os.environ, JOBS_ENV: str(jobs_file), "PYTEST_ADDOPTS": ""}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), env.get("PYTHONPATH")) if p)
    subprocess.run(argv, env=env, check=False)
    return [outcome_of(job) for job in jobs]


def outcome_of(job: Job) -> Outcome:
    """Read back what ``job`` wrote (its JSON, or the error note its item left)."""
    out = Path(job.out)
    note = out.with_suffix(".error")
    if out.exists():
        data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        bad = [(v["name"], v["message"]) for v in data.get("verdicts", []) if not v.get("ok")]
        failed = [name for name, _ in bad]
        if data.get("stopped"):
            failed.append("stopped by the watchdog")
        ok = bool(data.get("ok")) and not failed
        command = str(data.get("command", ""))
        return Outcome(job, ok=ok, failed=failed, messages=bad, command=command)
    if note.exists():
        return Outcome(job, error=note.read_text(encoding="utf-8").splitlines()[0])
    return Outcome(job, error="no result: the worker running it crashed or was stopped")


def run_job(job: Job) -> None:
    """Replay one job here (inside an xdist worker) and write its JSON and timeline."""
    import datetime as dt

    from harness.run import runner

    out = Path(job.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        until = dt.datetime.fromisoformat(job.until) if job.until else None
        result = runner.run(
            job.ref,
            seed=job.seed,
            until=until,
            settings=job.settings,
            database=job.database,
            baseline=job.baseline,
            faithful=job.faithful,
        )
    except HarnessError as exc:
        out.with_suffix(".error").write_text(f"{exc}\n", encoding="utf-8")
        return
    except Exception as exc:  # a bug: one line for the table, the traceback kept beside it
        import traceback

        line = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        out.with_suffix(".error").write_text(f"{line}\n{traceback.format_exc()}", "utf-8")
        return
    result.timeline.write(str(job.timeline_path))
    out.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n", "utf-8")
