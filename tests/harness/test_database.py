"""Database resolution: DATABASE_URL, the embedded default, and the one-line failure."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.infra import database
from harness.infra.database import DatabaseUnavailable, parse_url

REPO = Path(__file__).resolve().parents[2]


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


class TestParseUrl:
    def test_full_url(self) -> None:
        cfg = parse_url("postgresql://alice:s3cret@db.example:6543/shop")
        assert cfg["ENGINE"] == "django.db.backends.postgresql"
        assert (cfg["USER"], cfg["PASSWORD"], cfg["HOST"], cfg["PORT"], cfg["NAME"]) == (
            "alice",
            "s3cret",
            "db.example",
            6543,
            "shop",
        )

    def test_persistent_connections_by_default(self) -> None:
        # CONN_MAX_AGE=0 makes the ORM broker reconnect on every poll (4-15x slower).
        assert parse_url("postgresql://u@h/d")["CONN_MAX_AGE"] is None
        assert parse_url("postgresql://u@h/d", conn_max_age=60)["CONN_MAX_AGE"] == 60

    def test_postgres_scheme_alias(self) -> None:
        assert parse_url("postgres://u@h:5432/d")["ENGINE"] == "django.db.backends.postgresql"

    @pytest.mark.parametrize("url", ["sqlite:///tmp/x.db", "mysql://u@h/d"])
    def test_other_engines_are_refused_with_both_options(self, url: str) -> None:
        with pytest.raises(DatabaseUnavailable) as info:
            parse_url(url)
        msg = str(info.value)
        assert "\n" not in msg and "DATABASE_URL" in msg and "embedded" in msg

    def test_junk_is_refused(self) -> None:
        with pytest.raises(DatabaseUnavailable, match="not a database URL"):
            parse_url("this is not a url")


class TestResolve:
    def test_unreachable_url_names_both_options(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(database, "_RESOLVED", None)
        monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nothing")
        with pytest.raises(DatabaseUnavailable) as info:
            database.resolve()
        msg = str(info.value)
        assert "\n" not in msg
        assert "127.0.0.1:1" in msg and "unset DATABASE_URL" in msg and "embedded" in msg

    def test_embedded_disabled_and_no_url(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(database, "_RESOLVED", None)
        monkeypatch.delenv("DATABASE_URL", raising=False)
        monkeypatch.setenv("HARNESS_EMBEDDED_PG", "0")
        with pytest.raises(DatabaseUnavailable, match="DATABASE_URL is not set"):
            database.resolve()

    def test_data_root_as_root_avoids_private_home(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("HARNESS_PG_DIR", raising=False)
        monkeypatch.setattr(os, "geteuid", lambda: 0)
        assert database.data_root() == Path("/var/cache/dq-harness")
        monkeypatch.setenv("HARNESS_PG_DIR", "/srv/pg")
        assert database.data_root() == Path("/srv/pg")


@pytest.mark.parametrize(
    "argv,env",
    [
        (["reference/manage.py", "check"], {"HARNESS_EMBEDDED_PG": "0"}),
        (["reference/manage.py", "check"], {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}),
        (["-m", "harness.cli", "db"], {"HARNESS_EMBEDDED_PG": "0"}),
        (
            ["-m", "pytest", "-p", "no:xdist", "tests/harness/test_database.py::TestParseUrl"],
            {"HARNESS_EMBEDDED_PG": "0"},
        ),
    ],
    ids=["manage-no-db", "manage-dead-url", "cli-no-db", "pytest-no-db"],
)
def test_no_usable_database_is_one_line_and_exit_2(argv: list[str], env: dict[str, str]) -> None:
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    full_env.update(env)
    proc = subprocess.run(
        [sys.executable, *argv], cwd=REPO, env=full_env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "DATABASE_URL" in lines[0] and "embedded" in lines[0]


@pytest.fixture
def private_root() -> Iterator[Path]:
    """A data root of our own (not pytest's tmp_path, which a parallel pytest may prune)."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="dq-harness-test-"))
    yield base / "pgroot"
    shutil.rmtree(base, ignore_errors=True)


def test_embedded_cold_start_from_template_then_reuse(private_root: Path) -> None:
    """A fresh root: initdb once into a template, copy it, then reuse the data dir."""
    root = private_root
    code = """
        import json, time
        from harness.infra import database
        t = time.perf_counter()
        found = database.resolve()
        import psycopg
        s = found.settings
        with psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"]) as c:
            ddir = c.execute("select current_setting('data_directory')").fetchone()[0]
            fsync = c.execute("show fsync").fetchone()[0]
        print(json.dumps({"source": found.source, "ddir": ddir, "fsync": fsync,
                          "seconds": time.perf_counter() - t}))
    """
    first = _run(code, HARNESS_PG_DIR=str(root))
    assert first.returncode == 0, first.stderr
    assert (root / "template" / "PG_VERSION").exists()
    import json

    one = json.loads(first.stdout.strip().splitlines()[-1])
    assert one["source"] == "embedded"
    assert Path(one["ddir"]) == root / "data"
    assert one["fsync"] == "off"  # tuned for tests
    template_stamp = (root / "template" / "PG_VERSION").stat().st_mtime_ns

    second = _run(code, HARNESS_PG_DIR=str(root))
    assert second.returncode == 0, second.stderr
    two = json.loads(second.stdout.strip().splitlines()[-1])
    assert two["ddir"] == one["ddir"]
    # The template is made once; a lost data dir is re-made by copying it, not by initdb.
    import shutil

    shutil.rmtree(root / "data")
    third = _run(code, HARNESS_PG_DIR=str(root))
    assert third.returncode == 0, third.stderr
    assert (root / "template" / "PG_VERSION").stat().st_mtime_ns == template_stamp
    assert (root / "data" / "PG_VERSION").exists()


def test_first_start_of_many_processes_at_once_cannot_race(private_root: Path) -> None:
    """N processes on an empty data root at the same instant (xdist workers and a qcluster on a
    freshly booted machine): the first start (template, data copy, server) is serialised, so
    every one of them gets the same server and none dies half-way."""
    code = """
        from harness.infra import database
        import psycopg
        s = database.resolve().settings
        with psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"]) as c:
            print(c.execute("show data_directory").fetchone()[0])
    """
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["HARNESS_PG_DIR"] = str(private_root)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0, 0, 0, 0], [err for _, _, err in results]
    assert {out.strip() for _, out, _ in results} == {str(private_root / "data")}
    assert not list(private_root.glob("*.tmp"))  # no staging dir left behind


def test_db_url_round_trips_as_database_url() -> None:
    """``harness db --url`` prints a URL that, given back as DATABASE_URL, reaches the same
    server (a socket directory must be percent-encoded in the host part)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    printed = subprocess.run(
        [sys.executable, "-m", "harness.cli", "db", "--url"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    url = printed.stdout.strip()
    code = """
        from harness.infra import database
        import psycopg
        s = database.resolve().settings
        with psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"]) as c:
            print(database.resolve().source, c.execute("show data_directory").fetchone()[0])
    """
    direct = _run(code)
    via_url = _run(code, DATABASE_URL=url)
    assert via_url.returncode == 0, via_url.stderr
    assert via_url.stdout.split()[0] == "url"
    assert via_url.stdout.split()[1] == direct.stdout.split()[1]
