"""``setup_domain_tasks [--check-existing]``."""

from apps.common.setup_command import SetupTasksCommand


class Command(SetupTasksCommand):
    help = "Set up domain scheduled tasks"
    app_label = "domains"
