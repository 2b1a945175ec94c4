"""Run the real ``qcluster`` as a subprocess: start, wait until ready, stop, leave nothing behind.

Why a subprocess and not the in-process driver: throughput, ``queue_limit`` pressure and latency
only mean something with django-q2's real processes (sentinel, pusher, workers, monitor) running
concurrently on a real clock. Differential checks and benchmarks use this; simulations use the
driver.

How it works:

* The cluster gets its ``Q_CLUSTER`` overrides through one environment variable,
  :data:`ENV_VAR` (a JSON object). The settings module applies them with
  :func:`q_cluster_from_env`, so one settings module serves any grid of configurations.
* Readiness is django-q2's own ``Q Cluster <name> [<queue>] running.`` log line, logged by the
  sentinel right after every worker, the monitor and the pusher were forked. The runner forces
  ``log_level: INFO`` unless the caller sets one.
* Output goes to a log file, not a pipe: a chatty cluster can never block on a full pipe.
* Stop is SIGTERM to the ``qcluster`` process (what a service manager sends), then a wait; past
  ``stop_timeout`` the whole process tree is SIGKILLed. The cluster runs in its own session, and
  any descendant still alive after the main process exits is killed by pid, so no worker, monitor
  or pusher outlives a run, even when the caller crashes (``atexit``).

This module imports nothing from Django at import time: settings modules import it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.infra.affinity import widened_affinity

ENV_VAR = "HARNESS_Q_CLUSTER"
"""Environment variable holding a JSON object merged over the settings' ``Q_CLUSTER``."""

READY_RE = re.compile(rb"Q Cluster (?P<name>\S+) \[(?P<queue>[^\]]*)\] running\.")
"""django-q2's sentinel logs this once all cluster processes are forked (django-q2 ≥ 1.5)."""


class RealClusterError(HarnessError):
    """The cluster did not start, did not get ready in time, or an override is malformed."""


def q_cluster_from_env(
    base: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``base`` with the JSON object from :data:`ENV_VAR` merged over it.

    A ``null`` value removes the key (e.g. ``orm`` set to null and ``redis`` to a ``redis://``
    URL switches a settings module from the ORM broker to Redis, since django-q2 picks the ORM
    broker whenever ``orm`` is set).
    """
    raw = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    merged = dict(base)
    if not raw:
        return merged
    try:
        extra = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RealClusterError(
            f"{ENV_VAR} is not valid JSON ({exc.msg} at character {exc.pos})"
        ) from None
    if not isinstance(extra, dict):
        raise RealClusterError(f"{ENV_VAR} must be a JSON object, got {type(extra).__name__}")
    for key, value in extra.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


_LIVE: dict[int, RealCluster] = {}


def _kill_leftovers() -> None:
    """atexit: a crashed or interrupted caller must not leave clusters running."""
    for cluster in list(_LIVE.values()):
        cluster.kill()


atexit.register(_kill_leftovers)


class RealCluster:
    """One real ``qcluster`` subprocess of a Django project.

    ``settings``: the settings module (importable from ``cwd``) that applies
    :func:`q_cluster_from_env`; ``q_cluster``: overrides for this run; ``env``: extra environment.
    ``argv`` replaces the command (default ``python -m django qcluster``), for tests of the
    runner itself. Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        settings: str,
        q_cluster: Mapping[str, Any] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        python: str = sys.executable,
        argv: Sequence[str] | None = None,
        ready_timeout: float = 30.0,
        stop_timeout: float = 30.0,
        log_path: str | Path | None = None,
    ) -> None:
        self.settings = settings
        self.q_cluster = dict(q_cluster or {})
        self.q_cluster.setdefault("log_level", "INFO")
        self.env = dict(env or {})
        self.cwd = Path(cwd) if cwd else Path.cwd()
        self.argv = list(argv) if argv else [python, "-m", "django", "qcluster"]
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self._own_log = log_path is None
        self.log_path = Path(log_path) if log_path else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._known: dict[int, Any] = {}  # pid -> psutil.Process, every descendant ever seen
        self.startup_s: float | None = None
        self.stop_s: float | None = None
        self.returncode: int | None = None
        self.queue: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> RealCluster:
        """Start the cluster and return once django-q2 says it is running."""
        if self._proc is not None:
            raise RealClusterError("this RealCluster was already started; make a new one")
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="qcluster-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        env = {
            **os.environ,
            **self.env,
            "DJANGO_SETTINGS_MODULE": self.settings,
            ENV_VAR: json.dumps(self.q_cluster, sort_keys=True),
            "PYTHONUNBUFFERED": "1",
        }
        t0 = time.perf_counter()
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our own process group: nothing leaks into the caller's
                preexec_fn=_unpinned(),
            )
        _LIVE[self._proc.pid] = self
        try:
            self._wait_ready(t0)
        except BaseException:
            self.kill()
            raise
        self.startup_s = time.perf_counter() - t0
        return self

    def _wait_ready(self, t0: float) -> None:
        assert self._proc is not None and self.log_path is not None
        deadline = t0 + self.ready_timeout
        while True:
            self._remember_tree()
            match = READY_RE.search(self.log_path.read_bytes())
            if match:
                self.queue = match.group("queue").decode()
                return
            code = self._proc.poll()
            if code is not None:
                raise RealClusterError(
                    f"qcluster ({self.settings}) exited with code {code} before it was ready: "
                    f"{self.log_tail()}"
                )
            if time.perf_counter() > deadline:
                raise RealClusterError(
                    f"qcluster ({self.settings}) logged no 'Q Cluster … running.' line within "
                    f"{self.ready_timeout:g} s (does LOGGING silence the django-q logger?): "
                    f"{self.log_tail()}"
                )
            time.sleep(0.02)

    def stop(self) -> int | None:
        """SIGTERM, wait up to ``stop_timeout``, then SIGKILL what is left; return the exit code."""
        if self._proc is None:
            return None
        self._remember_tree()
        t0 = time.perf_counter()
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._kill_tree()
                self._proc.wait()
        self.stop_s = time.perf_counter() - t0
        self._reap_descendants()
        return self._finish()

    def kill(self) -> int | None:
        """SIGKILL the whole tree now (error paths and atexit)."""
        if self._proc is None:
            return None
        self._remember_tree()
        self._kill_tree()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(5)
        self._reap_descendants()
        return self._finish()

    def _finish(self) -> int | None:
        assert self._proc is not None
        self.returncode = self._proc.returncode
        _LIVE.pop(self._proc.pid, None)
        if self._own_log and self.returncode == 0 and self.log_path:
            with contextlib.suppress(OSError):
                self.log_path.unlink()
        return self.returncode

    def __enter__(self) -> RealCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.stop()
        else:
            self.kill()

    # -- processes ---------------------------------------------------------------------------

    def _remember_tree(self) -> None:
        """Record every descendant we can see: after the parent dies they are reparented."""
        import psutil

        if self._proc is None:
            return
        try:
            root = psutil.Process(self._proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for proc in procs:
            self._known.setdefault(proc.pid, proc)

    def running(self) -> bool:
        """Is the ``qcluster`` process still alive (cheap: no process-tree walk)?"""
        return self._proc is not None and self._proc.poll() is None

    def processes(self) -> list[Any]:
        """The live processes of this cluster (``psutil.Process``), the qcluster process first."""
        self._remember_tree()
        return [p for p in self._known.values() if _alive(p)]

    def _kill_tree(self) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        for proc in self._known.values():
            if _alive(proc):
                with contextlib.suppress(Exception):
                    proc.kill()

    def _reap_descendants(self) -> None:
        """Children that outlived the qcluster process: a short grace period, then SIGKILL."""
        import psutil

        alive = [p for p in self._known.values() if p.pid != self.pid and _alive(p)]
        if not alive:
            return
        _, still = psutil.wait_procs(alive, timeout=min(5.0, self.stop_timeout))
        for proc in still:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(still, timeout=5)

    # -- diagnostics -------------------------------------------------------------------------

    def log_text(self) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 3) -> str:
        """The last non-empty log lines, joined into one line (for one-line errors)."""
        tail = [ln.strip() for ln in self.log_text().splitlines() if ln.strip()][-lines:]
        return " | ".join(tail) or "(no output)"


def _alive(proc: Any) -> bool:
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _unpinned() -> Callable[[], None] | None:
    """Started inside a co-located simulation, a cluster still gets every CPU
    (harness.infra.affinity)."""
    cpus = widened_affinity()
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)
