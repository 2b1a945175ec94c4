"""examples/acme, replayed as its own team would: the ``harness`` command from its root.

Every test runs the venv's console script in a process of its own (acme has its own ``apps`` and
``config``), on the harness's PostgreSQL (``--database harness``: the embedded server, or
``DATABASE_URL``). ``ACME`` helpers live here so each test reads as the command a user types.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ACME = REPO / "examples" / "acme"
HARNESS = Path(sys.executable).parent / "harness"
COUNT_SLEEPS = """
import sys, time, threading, atexit
import harness.sim.scopes as scopes
real, main = scopes._REAL_SLEEP, threading.get_ident()
slept = []
def counting(seconds):
    if threading.get_ident() == main:
        slept.append(seconds)
    real(seconds)
scopes._REAL_SLEEP = counting
atexit.register(lambda: print(f"REAL-SLEEPS {len(slept)} {sum(slept):.3f}", file=sys.stderr))
from harness.cli import main as cli
sys.exit(cli(sys.argv[1:]))
"""


@dataclass
class Run:
    code: int
    out: str
    err: str
    folder: Path

    @property
    def result(self) -> dict[str, Any]:
        return json.loads((self.folder / "run.json").read_text())

    @property
    def events(self) -> list[dict[str, Any]]:
        lines = (self.folder / "timeline.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e["kind"] == kind and all(e.get(k) == v for k, v in match.items())
        ]

    def verdict(self, name: str) -> dict[str, Any]:
        return next(v for v in self.result["verdicts"] if v["name"] == name)


def acme_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env.pop("HARNESS_SCENARIOS", None)
    env.update(extra)
    return env


@pytest.fixture
def acme(tmp_path: Path) -> Callable[..., Run]:
    """``acme("replay", "dst-week", ...)``: the harness command in examples/acme (or ``cwd``: a
    copy of it); JSON and timeline go to a folder of the test's own."""

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        count_sleeps: bool = False,
        cwd: Path = ACME,
    ) -> Run:
        folder = tmp_path / f"run{len(list(tmp_path.glob('run*')))}"
        folder.mkdir()
        argv = list(args)
        if argv and argv[0] == "replay":
            argv += ["--no-progress", "--json", str(folder / "run.json")]
            argv += ["--timeline", str(folder / "timeline.jsonl")]
        command = (
            [sys.executable, "-c", COUNT_SLEEPS, *argv] if count_sleeps else [str(HARNESS), *argv]
        )
        proc = subprocess.run(
            command, cwd=cwd, env=env or acme_env(), capture_output=True, text=True, timeout=300
        )
        return Run(proc.returncode, proc.stdout, proc.stderr, folder)

    return run
