"""Test settings: the base Q_CLUSTER unchanged, so tests see production semantics.

The harness overrides cluster knobs per run (virtual clock, deterministic broker); it never
relies on a test-only Q_CLUSTER here.
"""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
