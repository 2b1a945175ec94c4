"""``setup_billing_tasks [--check-existing]``."""

from apps.common.setup_command import SetupTasksCommand


class Command(SetupTasksCommand):
    help = "Set up billing scheduled tasks"
    app_label = "billing"
