"""Settings for the real ``qcluster`` of the differential tests.

The repository's test settings, pointed at the test's own database (``DIFF_DB_NAME``) and with
the run's Q_CLUSTER overrides (``HARNESS_Q_CLUSTER``). No root log handler, so django-q2 installs
its own and logs the "Q Cluster … running." line the runner waits for.
"""

import os

from config.settings.test import *  # noqa: F403
from config.settings.test import DATABASES, Q_CLUSTER
from harness.infra.realcluster import q_cluster_from_env

DATABASES["default"]["NAME"] = os.environ["DIFF_DB_NAME"]
Q_CLUSTER = q_cluster_from_env(Q_CLUSTER)
LOGGING = {"version": 1, "disable_existing_loggers": False}
