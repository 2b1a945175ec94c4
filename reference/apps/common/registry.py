"""Which apps own schedules: every AppConfig with ``schedule_prefix`` and ``setup_tasks``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.apps import apps
from django.utils.module_loading import import_string
from django_q.models import Schedule


@dataclass(frozen=True)
class TaskSetup:
    label: str
    prefix: str
    setup: Callable[[], dict[str, str]]

    def existing(self) -> int:
        return Schedule.objects.filter(name__startswith=self.prefix).count()


def task_setups() -> Iterator[TaskSetup]:
    """Every installed app's schedule setup, in INSTALLED_APPS order."""
    for config in apps.get_app_configs():
        path = getattr(config, "setup_tasks", None)
        if path:
            yield TaskSetup(config.label, config.schedule_prefix, import_string(path))


def task_setup(label: str) -> TaskSetup:
    for item in task_setups():
        if item.label == label:
            return item
    raise LookupError(f"app {label!r} declares no scheduled tasks")
