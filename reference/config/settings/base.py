"""Base settings of the reference platform (the seed's PRAHO task system).

Q_CLUSTER is the seed methodology's "Configuration" section, verbatim. The database comes from
:func:`harness.infra.database.database_settings`: ``DATABASE_URL`` if set, else an embedded
PostgreSQL, else one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness import database_settings

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "apps.common",
    "apps.customers",
    "apps.provisioning",
    "apps.billing",
    "apps.domains",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {"default": database_settings()}

# A lock or idempotency claim must hold across processes: never LocMem or Dummy caches.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "praho_cache",
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "Europe/Bucharest"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The seed's Q_CLUSTER ("Configuration" section), exactly.
Q_CLUSTER_BASE = {
    "name": "praho-cluster",
    "workers": 2,  # Adjust based on server capacity
    "timeout": 300,  # 5 minutes
    "retry": 600,  # 10 minutes retry delay
    "save_limit": 1000,  # Keep last 1000 task results
    "queue_limit": 100,  # Max 100 jobs in queue
    "orm": "default",  # Use PostgreSQL database
    "bulk": 10,  # Process 10 jobs at once
    "catch_up": False,  # Don't run missed scheduled tasks
}

# Priority clusters (the seed's "Queue Prioritization"), off by default: when on, provisioning
# and billing tasks and schedules go to their own high-priority clusters and cleanup, reports and
# imports to the low-priority ``bulk`` one, each served by
# ``Q_CLUSTER_NAME=<name> manage.py qcluster`` (apps.common.queues; docs/platform.md).
# ``ALT_CLUSTERS`` is only read by a qcluster started with ``Q_CLUSTER_NAME=<name>``, so defining
# it with the flag off changes nothing.
PRAHO_PRIORITY_CLUSTERS = os.environ.get("PRAHO_PRIORITY_CLUSTERS", "") in ("1", "true", "yes")
Q_CLUSTER_BASE["ALT_CLUSTERS"] = {
    "provisioning": {"workers": 2},
    "billing": {"workers": 1},
    "bulk": {"workers": 1},
}
Q_CLUSTER = dict(Q_CLUSTER_BASE)

# Per-customer isolation (the seed's "Multi-tenant Isolation"): at most this many provisioning
# jobs of one customer in the queue or running; the rest wait as ``deferred`` jobs and are
# enqueued as earlier ones finish. 0 turns the cap off.
PRAHO_TENANT_MAX_INFLIGHT = int(os.environ.get("PRAHO_TENANT_MAX_INFLIGHT", "5"))

# Task metrics and alert rules (apps.common.metrics); /ops/metrics accepts this bearer token.
PRAHO_METRICS_TOKEN = os.environ.get("PRAHO_METRICS_TOKEN", "")
PRAHO_ALERT_OVERDUE = 600  # seconds past next_run
PRAHO_ALERT_FAILURE_RATE = 0.2
PRAHO_ALERT_MIN_RUNS = 5
PRAHO_ALERT_QUEUE_FRACTION = 0.8

# What dq-harness's quiet-failures checker must know of this platform (every scenario starts from
# it): these tasks report a failure in their result on purpose. The job table (apps.provisioning
# .jobs), the payment attempts (dunning) and the renewal claims record such a failure and retry
# or escalate it themselves, and the task dashboard shows it. Any other task that returns
# {"success": False} reports a failure nobody will retry, and fails a replay.
HARNESS_EXPECT = {
    "quiet-failures": {
        "ignore": [
            "apps.provisioning.virtualmin_tasks.*",
            "apps.domains.tasks.renew_domain",
            "apps.billing.tasks.collect_invoice_payment",
        ],
    },
}

# External endpoints. Production reads them from the environment; development and test default
# to local fake addresses. Virtualmin endpoints and credentials live on each VirtualminServer row.
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
STRIPE_CONNECT_TIMEOUT = 5
STRIPE_READ_TIMEOUT = 30
REGISTRAR_API_BASE = os.environ.get("REGISTRAR_API_BASE", "https://api.gandi.net/v5")
REGISTRAR_API_TOKEN = os.environ.get("REGISTRAR_API_TOKEN", "")
REGISTRAR_CONNECT_TIMEOUT = 5
REGISTRAR_READ_TIMEOUT = 30
VIRTUALMIN_CONNECT_TIMEOUT = 5
VIRTUALMIN_READ_TIMEOUT = 60

# Task arguments above this size are refused (they bloat the broker table and Task rows).
TASK_MAX_PAYLOAD_BYTES = 64 * 1024
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "billing@praho.example")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Every emitted line goes through the credential redaction of apps.common.security.
    "filters": {"redact": {"()": "apps.common.logging.RedactingFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    # The tasks' structured lines (🔄 ✅ ❌ 💥 [App]) and the cluster's own log.
    "loggers": {
        "apps": {"level": "INFO"},
        "django-q": {"level": "INFO"},
    },
}
