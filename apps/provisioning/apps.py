"""App config: Virtualmin servers, hosting services and provisioning jobs."""

from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "apps.provisioning"
    label = "provisioning"
    verbose_name = "Provisioning"
    # The seed names these schedules ``virtualmin-*``; keep its names.
    schedule_prefix = "virtualmin-"
    setup_tasks = "apps.provisioning.virtualmin_tasks.setup_virtualmin_scheduled_tasks"

    def ready(self) -> None:
        from apps.common.security import register_secret_provider
        from apps.provisioning.models import server_passwords

        register_secret_provider(server_passwords)
