"""App config: subscriptions, invoices, payments (Stripe) and dunning."""

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "apps.billing"
    label = "billing"
    verbose_name = "Billing"
    schedule_prefix = "billing-"
    setup_tasks = "apps.billing.tasks.setup_billing_scheduled_tasks"
