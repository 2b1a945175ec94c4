"""Test settings: the base Q_CLUSTER unchanged, so tests see production semantics.

The harness overrides cluster knobs per run (virtual clock, deterministic broker); it never
relies on a test-only Q_CLUSTER here.
"""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# One test database name per checkout, so that two clones (or git worktrees) can run their
# suites at the same time on the shared embedded server; pytest-xdist then appends ``_gwN``.
import hashlib as _hashlib  # noqa: E402

_checkout = _hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:6]  # noqa: F405
DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_checkout}"}  # noqa: F405

from .local_endpoints import *  # noqa: E402, F403
