"""harness.infra.realcluster: a real qcluster starts, runs tasks, stops on SIGTERM, leaves
nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psutil
import pytest

from benchmarks.benchdb import BENCH_SETTINGS, REPO_ROOT
from harness.infra.realcluster import ENV_VAR, RealCluster, RealClusterError, q_cluster_from_env

TASK = "benchmarks.benchproject.tasks.started_at"


def _gone(procs: list[psutil.Process]) -> bool:
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            pass
    return True


@pytest.mark.dbpath
@pytest.mark.slow
def test_real_cluster_runs_tasks_and_stops_clean(transactional_db, tmp_path) -> None:
    from django.db import connection
    from django_q.models import Task

    name = f"rc{os.getpid()}"
    env = {"BENCH_DB_NAME": connection.settings_dict["NAME"]}
    overrides = {"name": name, "workers": 1, "save_limit": 0}
    cluster = RealCluster(
        BENCH_SETTINGS,
        overrides,
        env=env,
        cwd=REPO_ROOT,
        stop_timeout=15,
        log_path=tmp_path / "q.log",
    )
    before = time.time()
    with cluster:
        procs = cluster.processes()
        # qcluster, sentinel, one worker, monitor, pusher
        assert len(procs) >= 5, [p.cmdline() for p in procs]
        assert cluster.queue == name
        subprocess.run(
            [sys.executable, "-m", "benchmarks.benchproject.produce", "--count", "3"],
            cwd=REPO_ROOT,
            env={
                **os.environ,
                **env,
                "DJANGO_SETTINGS_MODULE": BENCH_SETTINGS,
                ENV_VAR: json.dumps(overrides),
            },
            check=True,
            capture_output=True,
        )
        deadline = time.time() + 20
        while Task.objects.filter(func=TASK).count() < 3 and time.time() < deadline:
            time.sleep(0.05)
        results = [t.result for t in Task.objects.filter(func=TASK)]
    assert len(results) == 3
    assert all(before < r < time.time() for r in results)  # each task recorded its own start
    assert cluster.returncode == 0  # stopped by SIGTERM, cleanly
    assert _gone(procs)
    assert not cluster.processes()


def test_start_failure_is_one_line_and_leaves_nothing(tmp_path) -> None:
    cluster = RealCluster("no_such_settings_module", cwd=REPO_ROOT, log_path=tmp_path / "q.log")
    with pytest.raises(RealClusterError, match="exited with code 1 before it was ready") as exc:
        cluster.start()
    assert "\n" not in str(exc.value)
    assert "no_such_settings_module" in str(exc.value)
    assert not cluster.processes()


def _fake(body: str) -> list[str]:
    return [sys.executable, "-c", "import signal, subprocess, sys, time\n" + body]


def test_ignored_sigterm_escalates_to_kill_of_the_whole_tree(tmp_path) -> None:
    script = (
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('Q Cluster fake [q1] running.', flush=True)\n"
        "time.sleep(60)\n"
    )
    cluster = RealCluster("unused", argv=_fake(script), stop_timeout=0.5, log_path=tmp_path / "l")
    cluster.start()
    procs = cluster.processes()
    assert cluster.queue == "q1"
    assert len(procs) == 2  # the process and its child
    assert cluster.stop() == -9
    assert _gone(procs)


def test_children_outliving_the_parent_are_reaped(tmp_path) -> None:
    script = (
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " start_new_session=True)\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
        "print('Q Cluster fake [q2] running.', flush=True)\n"
        "time.sleep(60)\n"
    )
    cluster = RealCluster("unused", argv=_fake(script), stop_timeout=0.5, log_path=tmp_path / "l")
    cluster.start()
    procs = cluster.processes()
    assert len(procs) == 2
    assert cluster.stop() == 0
    assert _gone(procs)  # the orphan in its own session was killed by pid


def test_no_ready_line_times_out_and_kills(tmp_path) -> None:
    cluster = RealCluster(
        "unused", argv=_fake("time.sleep(60)"), ready_timeout=0.5, log_path=tmp_path / "l"
    )
    with pytest.raises(RealClusterError, match=r"logged no 'Q Cluster … running\.' line"):
        cluster.start()
    assert cluster.returncode == -9
    assert not cluster.processes()


def test_context_manager_kills_on_error(tmp_path) -> None:
    cluster = RealCluster(
        "unused",
        argv=_fake("print('Q Cluster f [q] running.', flush=True); time.sleep(60)"),
        log_path=tmp_path / "l",
    )
    with pytest.raises(KeyError), cluster:
        procs = cluster.processes()
        raise KeyError("boom")
    assert cluster.returncode == -9
    assert _gone(procs)


def test_overrides_merge_and_null_removes() -> None:
    base = {"name": "b", "orm": "default", "workers": 2}
    env = {ENV_VAR: json.dumps({"orm": None, "redis": "redis://x", "workers": 4})}
    assert q_cluster_from_env(base, env) == {"name": "b", "redis": "redis://x", "workers": 4}
    assert q_cluster_from_env(base, {}) == base
    assert q_cluster_from_env(base, {}) is not base


@pytest.mark.parametrize(
    "raw,reason", [("{nope", "not valid JSON"), ("[1, 2]", "must be a JSON object, got list")]
)
def test_bad_overrides_are_one_line_errors(raw: str, reason: str) -> None:
    with pytest.raises(RealClusterError, match=reason) as exc:
        q_cluster_from_env({}, {ENV_VAR: raw})
    assert "\n" not in str(exc.value)


def test_runner_forces_info_logging_unless_told() -> None:
    assert RealCluster("s").q_cluster == {"log_level": "INFO"}
    assert RealCluster("s", {"log_level": "DEBUG"}).q_cluster == {"log_level": "DEBUG"}
