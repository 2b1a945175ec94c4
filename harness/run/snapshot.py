"""The end-of-run snapshot: taken once, by the runner, so the checkers never read the database.

What the checkers need from the live system is read here, at the end of the run (the schedules
right after setup): broker rows left, Task rows, captured log lines, the audit model's rows, the
signatures of every function a task or schedule names, the project's task functions (what
``activity`` lists as never enqueued) — and the secrets looked for, whose
values are replaced by markers in every recorded text (:func:`harness.record.run.redact`).
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.record.run import Snapshot, redact

CREDENTIAL_OPTIONS = ("password", "secret_key", "webhook_secret", "token")


def schedules() -> list[dict[str, Any]]:
    """The Schedule rows as setup left them."""
    from django_q.models import Schedule

    return list(
        Schedule.objects.order_by("next_run", "id").values(
            "id",
            "name",
            "func",
            "schedule_type",
            "minutes",
            "cron",
            "next_run",
            "repeats",
            "cluster",
            "args",
            "kwargs",
        )
    )


def secret_values(options: Any, fakes: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of every secret the run looks for: the settings and literal values the
    scenario names, and the credentials given to the fakes."""
    from django.conf import settings

    out = []
    for name in options.setting_names:
        value = getattr(settings, name, None)
        if value:
            out.append((f"setting {name}", str(value)))
    for i, value in enumerate(options.values):
        out.append((f"secret value #{i + 1}", str(value)))
    for kind, (fake, fake_options) in fakes.items():
        own = tuple(getattr(fake, "credentials", ()))  # a project's fake names its own
        for key in dict.fromkeys(CREDENTIAL_OPTIONS + own):
            value = fake_options.get(key)
            if isinstance(value, str) and len(value) >= 8:
                out.append((f"fakes.{kind}.{key}", value))
    return out


def take(
    *,
    setup_schedules: list[dict[str, Any]],
    logs: list[str],
    secrets: list[tuple[str, str]],
    audit_options: Any,
    start: dt.datetime,
    funcs: set[str],
    task_functions: list[str] | None = None,
) -> Snapshot:
    """Everything the checkers read from the live system, once, at the end of the run."""
    return Snapshot(
        schedules=setup_schedules,
        queued=_queued(),
        task_rows=_task_rows(secrets),
        logs=[redact(line, secrets) for line in logs],
        secrets=[label for label, _ in secrets],
        audit=_audit(audit_options, start, secrets),
        signatures={
            f: signature_of(f)
            for f in sorted(funcs | {row["func"] for row in setup_schedules if row.get("func")})
        },
        task_functions=task_functions or [],
    )


def _queued() -> dict[str, dict[str, Any]]:
    from django_q.models import OrmQ

    out = {}
    for row in OrmQ.objects.order_by("id"):
        try:
            out[row.task_id()] = {"key": row.key, "lock": row.lock}
        except Exception:  # an unreadable payload: the worker would discard it too
            continue
    return out


def _task_rows(secrets: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    from django_q.models import Task

    out = {}
    for row in Task.objects.order_by("started", "id").values(
        "id", "func", "args", "kwargs", "result", "success"
    ):
        text = redact(f"{row['result']!r} {row['args']!r} {row['kwargs']!r}", secrets)
        out[row["id"]] = {"func": row["func"], "success": row["success"], "text": text}
    return out


def _audit(
    options: Any, start: dt.datetime, secrets: list[tuple[str, str]]
) -> dict[str, Any] | None:
    """The audit model's rows written during the run (the model named by the scenario or by the
    setting ``HARNESS_AUDIT_MODEL``), or None when there is none."""
    from django.apps import apps
    from django.conf import settings

    label = options.model or getattr(settings, "HARNESS_AUDIT_MODEL", None)
    if not label:
        return None
    model = apps.get_model(label)
    field = options.time_field
    rows = []
    for obj in model.objects.filter(**{f"{field}__gte": start}).order_by(field, "pk"):
        values = {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}
        rows.append({"at": values[field], "text": redact(repr(values), secrets)})
    return {"model": model._meta.label, "time_field": field, "rows": rows}


def signature_of(func: str) -> list[list[Any]] | str | None:
    """A function's parameters as ``[name, kind, has_default]`` rows; a string when the dotted
    path does not resolve; None when it cannot be inspected (a builtin)."""
    from django.utils.module_loading import import_string

    if "." not in func or func.startswith("<"):
        return None
    try:
        target = import_string(func)
    except ImportError as exc:
        return f"path does not resolve ({exc})"
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    return [
        [p.name, p.kind.name, p.default is not inspect.Parameter.empty]
        for p in sig.parameters.values()
    ]


NOT_THE_PROJECT = ("django", "django_q", "harness")  # installed apps that are never the project's
INSTALLED = ("site-packages", "dist-packages")


def task_functions(roots: list[Path]) -> list[str]:
    """Dotted paths of the public functions defined in the ``tasks`` module (or package) of
    each installed app whose code lives under one of ``roots`` (the project root and the
    scenario's paths) — not in site-packages, not django-q2's or the harness's own. A tasks
    module that does not import is left out (running its tasks fails loudly elsewhere)."""
    from django.apps import apps

    bases = [root.resolve() for root in roots]
    found: set[str] = set()
    for config in apps.get_app_configs():
        where = Path(config.path).resolve()
        if config.name.split(".")[0] in NOT_THE_PROJECT or set(where.parts) & set(INSTALLED):
            continue
        if not any(where.is_relative_to(base) for base in bases):
            continue
        for module in _tasks_modules(f"{config.name}.tasks"):
            found.update(
                f"{module.__name__}.{name}"
                for name, obj in vars(module).items()
                if not name.startswith("_")
                and inspect.isfunction(obj)
                and obj.__module__ == module.__name__
            )
    return sorted(found)


def _tasks_modules(name: str) -> list[ModuleType]:
    """The module ``name`` and, when it is a package, its submodules."""
    try:
        module = importlib.import_module(name)
    except Exception:  # no tasks module (ModuleNotFoundError), or one that does not import
        return []
    out = [module]
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), f"{name}."):
        try:
            out.append(importlib.import_module(info.name))
        except Exception:
            continue
    return out
