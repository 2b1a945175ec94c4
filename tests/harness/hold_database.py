"""Run by the freshdb tests in a subprocess (not collected): open a fresh run database of the
project named by ``DJANGO_SETTINGS_MODULE``, say which one, hold it until a line arrives on
stdin, then show it is still there and usable.

Prints ``pid NAME TEMPLATE OID`` when the database is open (``pid``: this process's id in its
own PID namespace; ``OID``: the template's, which changes only when it is rebuilt), then
``still NAME`` after the line.
"""

from __future__ import annotations

import os
import sys

import django

django.setup()

from django.db import connection  # noqa: E402

from harness.infra import templates  # noqa: E402
from harness.infra.freshdb import fresh_database  # noqa: E402

with fresh_database() as name:
    template = templates.current_project().template(templates.migration_key())
    with connection.cursor() as cur:
        cur.execute("SELECT oid FROM pg_database WHERE datname = %s", [template])
        oid = cur.fetchone()[0]
    print(os.getpid(), name, template, oid, flush=True)
    sys.stdin.readline()
    with connection.cursor() as cur:
        cur.execute("SELECT current_database()")
        print("still", cur.fetchone()[0], flush=True)
