"""The second stage of validation: every dotted path imports and every command exists (Django)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.scenario.model import Scenario, ScenarioError


def resolve_paths(scenario: Scenario) -> dict[str, Callable[..., Any]]:
    """Import every dotted path and check every command (Django must be set up)."""
    from django.core.management import get_commands
    from django.utils.module_loading import import_string

    resolved: dict[str, Callable[..., Any]] = {}

    def resolve(path: str, where: str) -> None:
        try:
            resolved[path] = import_string(path)
        except ImportError as exc:
            raise ScenarioError(scenario.source, where, f"cannot import {path!r}: {exc}") from None
        if not callable(resolved[path]):
            raise ScenarioError(scenario.source, where, f"{path!r} is not callable")

    commands = get_commands()
    for i, step in enumerate(scenario.setup):
        if step.command and step.command not in commands:
            raise ScenarioError(
                scenario.source, f"setup[{i}]", f"unknown management command {step.command!r}"
            )
        if step.call:
            resolve(step.call, f"setup[{i}].call")
    for i, spec in enumerate(scenario.loads):
        resolve(spec.call, f"load[{i}].call")
    for i, path in enumerate(scenario.lock_helpers):
        resolve(path, f"locks.helpers[{i}]")
    for func in scenario.durations:
        resolve(func, f"durations.per_func.{func}")
    return resolved
