"""Production settings: the seed's production overrides of Q_CLUSTER."""

import os

from .base import *  # noqa: F403
from .base import Q_CLUSTER_BASE

DEBUG = False
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h]

Q_CLUSTER = {
    **Q_CLUSTER_BASE,
    "workers": 4,  # Multiple workers
    "recycle": 500,  # Restart workers after 500 tasks
    "save_limit": 10000,  # Keep more history
}
