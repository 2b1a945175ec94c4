"""Acceptance 4: every ``async_task`` / ``schedule`` call site in ``apps/`` names a dotted path that
resolves and passes only arguments the target accepts.

This is the class of bug that broke PRAHO in production: ``async_task(..., schedule=x)`` forwards
the unknown ``schedule=`` to the task function, which raises ``TypeError`` on every redelivery.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

APPS = Path(__file__).resolve().parents[2] / "reference" / "apps"
# What django-q2 1.11's async_task consumes itself; anything else reaches the task function.
Q_OPTIONS = {
    "hook", "group", "save", "sync", "cached", "ack_failure", "iter_count", "iter_cached",
    "chain", "broker", "cluster", "timeout", "q_options", "task_name",
}  # fmt: skip
SCHEDULE_OPTIONS = {
    "name", "hook", "schedule_type", "minutes", "repeats", "next_run", "cron", "cluster",
    "intended_date_kwarg",
}  # fmt: skip


@dataclass
class Site:
    where: str
    kind: str
    node: ast.Call
    module: str


def _module_name(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root.parent).with_suffix("").parts)


def call_sites(root: Path = APPS) -> Iterator[Site]:
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = (
                node.func.attr
                if isinstance(node.func, ast.Attribute)
                else getattr(node.func, "id", None)
            )
            if name in ("async_task", "schedule", "ScheduleSpec"):
                yield Site(f"{path.name}:{node.lineno}", name, node, _module_name(path, root))


def _literal(node: ast.AST, module: str) -> Any:
    """A literal, or a module-level constant of the calling module."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        if isinstance(node, ast.Name):
            return getattr(import_string(module), node.id)
        raise


def check_site(site: Site) -> list[str]:
    """Problems at one call site (empty when it is fine)."""
    node, problems = site.node, []
    if site.kind == "ScheduleSpec":
        func_kw = {k.arg: k.value for k in node.keywords}.get("func")
        target = func_kw if func_kw is not None else (node.args[1] if len(node.args) > 1 else None)
        args_nodes: list[ast.AST] = []
        kwargs: dict[str, ast.AST] = {}
    else:
        if not node.args:
            return [f"{site.where}: no task path"]
        target, args_nodes = node.args[0], node.args[1:]
        kwargs = {k.arg: k.value for k in node.keywords if k.arg is not None}
        if any(k.arg is None for k in node.keywords) or any(
            isinstance(a, ast.Starred) for a in args_nodes
        ):
            if site.module != "apps.common.schedules":  # checked at runtime, see below
                problems.append(f"{site.where}: */** arguments cannot be checked")
            return problems
    if not (isinstance(target, ast.Constant) and isinstance(target.value, str)):
        if site.module == "apps.common.schedules":
            return problems  # the generic upsert: its specs are checked one by one
        return [f"{site.where}: task path is not a string literal"]
    try:
        func = import_string(target.value)
    except ImportError as exc:
        return [f"{site.where}: {target.value} does not resolve: {exc}"]
    options = Q_OPTIONS if site.kind == "async_task" else SCHEDULE_OPTIONS
    task_kwargs = {k: None for k in kwargs if k not in options}
    try:
        inspect.signature(func).bind(*[None] * len(args_nodes), **task_kwargs)
    except TypeError as exc:
        problems.append(f"{site.where}: {target.value}{tuple(task_kwargs) or ''}: {exc}")
    if site.kind == "async_task":
        if "timeout" not in kwargs:
            problems.append(f"{site.where}: no explicit timeout")
        else:
            timeout = _literal(kwargs["timeout"], site.module)
            if not (isinstance(timeout, int) and 0 < timeout < settings.Q_CLUSTER["retry"]):
                problems.append(f"{site.where}: timeout {timeout!r} is not below retry")
    return problems


def test_every_call_site_resolves_and_binds():
    sites = list(call_sites())
    kinds = {s.kind for s in sites}
    assert {"async_task", "ScheduleSpec", "schedule"} <= kinds
    assert len([s for s in sites if s.kind == "async_task"]) >= 12
    problems = [p for site in sites for p in check_site(site)]
    assert problems == []


def test_the_checker_catches_the_praho_bug(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from django_q.tasks import async_task\n"
        "async_task('apps.billing.tasks.collect_invoice_payment', 1, schedule=2, timeout=60)\n"
        "async_task('apps.billing.tasks.no_such_function', 1, timeout=60)\n"
        "async_task('apps.domains.tasks.renew_domain', 1, 2, 3, timeout=60)\n"
        "async_task('apps.common.tasks.cleanup_old_tasks', timeout=900)\n"
    )
    sites = [
        Site(f"bad.py:{s.node.lineno}", s.kind, s.node, "apps.common.tasks")
        for s in call_sites(tmp_path)
    ]
    problems = [p for site in sites for p in check_site(site)]
    assert len(problems) == 4
    assert "unexpected keyword argument 'schedule'" in problems[0]
    assert "does not resolve" in problems[1]
    assert "too many positional arguments" in problems[2]
    assert "not below retry" in problems[3]


@pytest.mark.django_db
def test_every_schedule_row_binds_to_its_function():
    """What the scheduler will actually call: ``func(*args, **kwargs)`` of every stored row."""
    from django.core.management import call_command
    from django_q.models import Schedule

    call_command("setup_all_tasks", verbosity=0)
    rows = list(Schedule.objects.all())
    assert rows
    for row in rows:
        func = import_string(row.func)
        args = ast.literal_eval(row.args) if row.args else ()
        kwargs = ast.literal_eval(row.kwargs) if row.kwargs else {}
        args = args if isinstance(args, tuple) else (args,)
        assert set(kwargs) <= {"q_options"}, f"{row.name}: {kwargs}"
        inspect.signature(func).bind(*args, **kwargs)
