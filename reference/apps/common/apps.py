"""App config: shared task infrastructure (retriability, locks, audit, schedules)."""

from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "apps.common"
    label = "common"
    verbose_name = "Common task infrastructure"
    # Read by ``setup_all_tasks``: every app that owns schedules declares these two.
    schedule_prefix = "common-"
    setup_tasks = "apps.common.tasks.setup_common_scheduled_tasks"

    def ready(self) -> None:
        from apps.common import metrics

        metrics.connect()  # a TaskRun row per execution (the dashboard's and /ops/metrics')
