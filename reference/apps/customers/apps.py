"""App config: customer accounts and notifications."""

from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "apps.customers"
    label = "customers"
    verbose_name = "Customers"
    schedule_prefix = "customers-"
    setup_tasks = "apps.customers.tasks.setup_customer_scheduled_tasks"
