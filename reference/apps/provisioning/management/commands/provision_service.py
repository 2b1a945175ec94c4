"""``provision_service <service_id> [--operation create|suspend|unsuspend|delete]``: queue it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.provisioning import virtualmin_tasks
from apps.provisioning.models import HostingService

_WRAPPERS = {
    "create": virtualmin_tasks.provision_virtualmin_account_async,
    "suspend": virtualmin_tasks.suspend_virtualmin_account_async,
    "unsuspend": virtualmin_tasks.unsuspend_virtualmin_account_async,
    "delete": virtualmin_tasks.delete_virtualmin_account_async,
}


class Command(BaseCommand):
    help = "Queue a Virtualmin operation for a hosting service"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("service_id", type=int)
        parser.add_argument("--operation", choices=sorted(_WRAPPERS), default="create")

    def handle(self, *args: Any, **options: Any) -> None:
        if not HostingService.objects.filter(pk=options["service_id"]).exists():
            raise CommandError(f"hosting service {options['service_id']} does not exist")
        task_id = _WRAPPERS[options["operation"]](options["service_id"])
        self.stdout.write(
            f"queued {options['operation']} for service {options['service_id']}: task {task_id}"
        )
