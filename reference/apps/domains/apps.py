"""App config: domains, expiry and registrar renewals."""

from django.apps import AppConfig


class DomainsConfig(AppConfig):
    name = "apps.domains"
    label = "domains"
    verbose_name = "Domains"
    schedule_prefix = "domains-"
    setup_tasks = "apps.domains.tasks.setup_domain_scheduled_tasks"
