"""``setup_all_tasks [--check-existing]``: every app's schedule setup (the seed's "Universal
Setup Command"). Each app runs on its own, so one failing app does not stop the others (PRAHO's
single ``try`` lost every category after billing); the command still exits non-zero."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.common.registry import task_setups
from apps.common.setup_command import run_setup


class Command(BaseCommand):
    help = "Set up the scheduled tasks of every app (idempotent)"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--check-existing",
            action="store_true",
            help="Skip an app whose schedules already exist",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        failures: list[str] = []
        for item in task_setups():
            try:
                run_setup(self, item, check_existing=options["check_existing"])
            except CommandError as exc:
                self.stderr.write(str(exc))
                failures.append(item.label)
        if failures:
            raise CommandError(f"❌ Scheduled task setup failed for: {', '.join(failures)}")
