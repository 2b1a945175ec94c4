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
    _check_apps(scenario)
    project_expect(scenario)
    return resolved


def _check_apps(scenario: Scenario) -> None:
    from django.apps import apps

    for i, label in enumerate(scenario.startup_ready):
        if not apps.is_installed(label) and label not in apps.app_configs:
            raise ScenarioError(
                scenario.source, f"startup.ready[{i}]", f"no installed app labelled {label!r}"
            )


def project_expect(scenario: Scenario) -> None:
    """The project's own checker options (the setting ``HARNESS_EXPECT``: checker name → table,
    as a scenario's ``[expect.<name>]``) under the scenario's: a table the scenario gives for a
    checker replaces the project's for that checker. What the run records is the merged table,
    so a saved run is judged the same way without the project."""
    from django.conf import settings

    from harness.scenario.parse import parse_expect_table

    own = getattr(settings, "HARNESS_EXPECT", None)
    if not own:
        return
    source = f"settings {getattr(settings, 'SETTINGS_MODULE', '?')}: HARNESS_EXPECT"
    if not isinstance(own, dict) or "checks" in own:
        raise ScenarioError(source, "", "a dict of checker name → options (no 'checks')")
    parse_expect_table(own, source)  # the project's own errors name the setting
    # A scenario read from TOML keeps its tables as written (expect_raw) and parsed (expect);
    # one built in Python has only ``expect``, as written: the record keeps the tables as
    # written and the judge parses them.
    written = scenario.expect_raw if scenario.expect_raw is not None else scenario.expect
    for name, table in own.items():
        written.setdefault(name, table)
    if scenario.expect_raw is not None:
        scenario.expect, _ = parse_expect_table(scenario.expect_raw, scenario.source)
