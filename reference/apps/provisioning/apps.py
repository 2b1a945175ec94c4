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
        from django.db.models.signals import post_init, post_save

        from apps.common.security import register_secret_provider
        from apps.provisioning.models import VirtualminServer, remember_password, server_passwords

        register_secret_provider(server_passwords)
        post_init.connect(remember_password, sender=VirtualminServer, dispatch_uid="vm-pw-init")
        post_save.connect(remember_password, sender=VirtualminServer, dispatch_uid="vm-pw-save")
