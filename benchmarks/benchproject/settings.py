"""Settings of the benchmark project.

* Database: :func:`harness.infra.database.database_settings` (``DATABASE_URL`` or the embedded
  PostgreSQL), but its own database, ``<name>_bench`` (``BENCH_DB_NAME`` overrides it; the
  runner's tests point it at pytest-django's test database).
* ``Q_CLUSTER``: a neutral base with every knob set explicitly (``save_limit`` defaults to 250 in
  django-q2, which prunes results), then the run's overrides from ``HARNESS_Q_CLUSTER``
  (:func:`harness.infra.realcluster.q_cluster_from_env`).
* ``CONN_MAX_AGE=None`` comes from ``database_settings()``: with 0 the ORM broker reconnects on
  every poll.
"""

from __future__ import annotations

import os

from harness.infra.database import database_settings
from harness.infra.realcluster import q_cluster_from_env

SECRET_KEY = os.environ.get("BENCH_SECRET_KEY", "benchmarks-only-not-secret")
DEBUG = False
ALLOWED_HOSTS: list[str] = []
INSTALLED_APPS = ["django_q"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {"default": database_settings()}
DATABASES["default"]["NAME"] = os.environ.get(
    "BENCH_DB_NAME", f"{DATABASES['default']['NAME']}_bench"
)

# Cluster stats only; a per-process cache keeps them out of the measured database traffic.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

Q_CLUSTER_BASE = {
    "name": "bench",
    "orm": "default",
    "workers": 2,
    "bulk": 10,
    "queue_limit": 100,
    "save_limit": 0,
    "timeout": 30,
    "retry": 60,
    "catch_up": False,
    "log_level": "INFO",
}
Q_CLUSTER = q_cluster_from_env(Q_CLUSTER_BASE)

# No LOGGING here on purpose: with a root handler configured, django-q2 does not install its
# own INFO handler, and the runner needs its 'Q Cluster … running.' line to know it is ready.
