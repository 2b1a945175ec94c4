"""``setup_virtualmin_tasks [--check-existing]``."""

from apps.common.setup_command import SetupTasksCommand


class Command(SetupTasksCommand):
    help = "Set up Virtualmin scheduled tasks"
    app_label = "provisioning"
