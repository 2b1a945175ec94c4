from django.apps import AppConfig
from django.db.models.signals import post_migrate


def create_schedules(sender, **kwargs):
    from .schedules import register_schedules

    register_schedules()


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.billing"
    verbose_name = "Billing"

    def ready(self):
        post_migrate.connect(create_schedules, sender=self)
