"""Base settings of the reference platform (the seed's PRAHO task system).

Q_CLUSTER is the seed methodology's "Configuration" section, verbatim. The database comes from
:func:`harness.database.database_settings`: ``DATABASE_URL`` if set, else an embedded
PostgreSQL, else one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.database import database_settings

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
Q_CLUSTER = dict(Q_CLUSTER_BASE)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
