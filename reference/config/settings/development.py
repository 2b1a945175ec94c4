"""Development settings: the seed's development overrides of Q_CLUSTER."""

from .base import *  # noqa: F403
from .base import Q_CLUSTER_BASE

DEBUG = True

Q_CLUSTER = {
    **Q_CLUSTER_BASE,
    "sync": False,  # Async execution
    "workers": 1,  # Single worker for development
    "save_limit": 50,  # Keep fewer records
}

from .local_endpoints import *  # noqa: E402, F403
