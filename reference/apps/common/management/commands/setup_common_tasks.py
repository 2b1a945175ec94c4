"""``setup_common_tasks [--check-existing]``."""

from apps.common.setup_command import SetupTasksCommand


class Command(SetupTasksCommand):
    help = "Set up common maintenance scheduled tasks"
    app_label = "common"
