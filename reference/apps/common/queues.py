"""Priority clusters (the seed's "Queue Prioritization"): which cluster an area's tasks use.

With ``PRAHO_PRIORITY_CLUSTERS`` off (the default) every task goes to the single
``praho-cluster``. With it on, provisioning and billing tasks and schedules are routed to their
own high-priority clusters, and cleanup, reports and imports to the low-priority ``bulk`` one
(``Q_CLUSTER["ALT_CLUSTERS"]``), each served by its own
``Q_CLUSTER_NAME=<area> python manage.py qcluster``, so a backlog of bulk work can never delay
payment collection or a customer's new account, and slow provisioning never delays payments.
The ``priority-bulk-import`` scenario proves it (docs/platform.md).
"""

from __future__ import annotations

from django.conf import settings

PRIORITY_AREAS = ("provisioning", "billing", "bulk")


def cluster_for(area: str) -> str | None:
    """The cluster name for ``area``, or None for the default cluster."""
    if getattr(settings, "PRAHO_PRIORITY_CLUSTERS", False) and area in PRIORITY_AREAS:
        return area
    return None
