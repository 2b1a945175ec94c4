"""Which server is this suite on? Proved from inside the server, not from our own config."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from harness.infra import database

pytestmark = [pytest.mark.dbpath, pytest.mark.django_db]


def test_connected_server_is_the_resolved_one() -> None:
    found = database.resolve()
    with connection.cursor() as cur:
        cur.execute(
            "select current_setting('data_directory'), inet_server_port(), current_database()"
        )
        data_dir, port, dbname = cur.fetchone()
    url = os.environ.get("DATABASE_URL")
    if url:
        assert found.source == "url"
        assert port == int(database.parse_url(url)["PORT"] or 5432)  # TCP, the URL's port
    else:
        assert found.source == "embedded"
        assert port is None  # Unix socket only
        assert data_dir == str(found.pgdata)
    assert dbname == connection.settings_dict["NAME"]


def test_each_xdist_worker_has_its_own_database() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    name = connection.settings_dict["NAME"]
    assert name.startswith("test_")
    if worker:
        assert name.endswith(f"_{worker}")
