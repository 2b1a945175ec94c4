"""Priority clusters (the seed's "Queue Prioritization"): which cluster an area's tasks use.

With ``PRAHO_PRIORITY_CLUSTERS`` off (the default) every task goes to the single
``praho-cluster``. With it on, provisioning and billing tasks and schedules are routed to their
own clusters (``Q_CLUSTER["ALT_CLUSTERS"]``), each served by its own
``Q_CLUSTER_NAME=<area> python manage.py qcluster``, so
a backlog of slow provisioning work can never delay payment collection and vice versa.
"""

from __future__ import annotations

from django.conf import settings

PRIORITY_AREAS = ("provisioning", "billing")


def cluster_for(area: str) -> str | None:
    """The cluster name for ``area``, or None for the default cluster."""
    if getattr(settings, "PRAHO_PRIORITY_CLUSTERS", False) and area in PRIORITY_AREAS:
        return area
    return None
