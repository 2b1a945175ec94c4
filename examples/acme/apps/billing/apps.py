import logging

from django.apps import AppConfig
from django.conf import settings
from django.db import DatabaseError
from django.db.models.signals import post_migrate

logger = logging.getLogger(__name__)


def create_schedules(sender, **kwargs):
    from .schedules import register_schedules

    register_schedules()


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.billing"
    verbose_name = "Billing"

    def ready(self):
        post_migrate.connect(create_schedules, sender=self)
        if settings.ACME_CHARGE_RECONCILIATION:
            # Every web and worker process makes sure the reconciliation schedule exists, so
            # turning the flag on needs no deploy step. A process that starts before the
            # database is reachable (collectstatic in the image build) just skips it.
            from .schedules import register_reconciliation

            try:
                register_reconciliation()
            except DatabaseError as exc:
                logger.warning("charge reconciliation schedule not registered: %s", exc)
