"""``setup_customer_tasks [--check-existing]``."""

from apps.common.setup_command import SetupTasksCommand


class Command(SetupTasksCommand):
    help = "Set up customer scheduled tasks"
    app_label = "customers"
