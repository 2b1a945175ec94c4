"""The seed's "Management Command Template", written once and reused by every app."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.common.registry import TaskSetup, task_setup
from apps.common.schedules import UNCHANGED


def run_setup(command: BaseCommand, item: TaskSetup, *, check_existing: bool) -> None:
    """Run one app's setup with the seed's output; ``--check-existing`` skips if rows exist."""
    if check_existing and item.existing() > 0:
        command.stdout.write(f"✅ [{item.label}] Scheduled tasks already exist, skipping...")
        return
    command.stdout.write(f"🚀 Setting up {item.label} scheduled tasks...")
    try:
        results = item.setup()
    except Exception as exc:
        raise CommandError(f"❌ Failed to set up {item.label} scheduled tasks: {exc}") from exc
    command.stdout.write(command.style.SUCCESS(f"✅ {item.label} scheduled tasks configured:"))
    for task_name, result in results.items():
        if result == UNCHANGED:
            command.stdout.write(command.style.WARNING(f"  - {task_name}: Already exists"))
        else:
            command.stdout.write(command.style.SUCCESS(f"  - {task_name}: {result.capitalize()}"))


class SetupTasksCommand(BaseCommand):
    """Subclass and set ``app_label``: ``setup_<app>_tasks [--check-existing]``."""

    app_label = ""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--check-existing",
            action="store_true",
            help="Skip if schedules already exist",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        run_setup(self, task_setup(self.app_label), check_existing=options["check_existing"])
