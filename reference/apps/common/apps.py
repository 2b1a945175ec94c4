"""App config: shared task infrastructure (retriability, locks, audit, schedules)."""

from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "apps.common"
    label = "common"
    verbose_name = "Common task infrastructure"
    # Read by ``setup_all_tasks``: every app that owns schedules declares these two.
    schedule_prefix = "common-"
    setup_tasks = "apps.common.tasks.setup_common_scheduled_tasks"
