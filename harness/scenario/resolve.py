"""The second stage of validation: every dotted path imports and every command exists (Django)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.checkers.custom import Chosen
from harness.scenario.model import FakeSpec, Scenario, ScenarioError


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
    for func in scenario.durations_per_func:
        resolve(func, f"durations.per_func.{func}")
    for spec in scenario.fakes:
        cls = fake_class(spec, scenario.source)
        if spec.app is not None:
            resolved[spec.app] = check_fake(spec, cls, scenario.source)
    _check_apps(scenario)
    project_expect(scenario)
    resolve_invariants(scenario)
    return resolved


def _check_apps(scenario: Scenario) -> None:
    from django.apps import apps

    for i, label in enumerate(scenario.startup_ready):
        if label not in apps.app_configs:
            raise ScenarioError(
                scenario.source, f"startup.ready[{i}]", f"no installed app labelled {label!r}"
            )


def project_expect(scenario: Scenario) -> None:
    """The project's own checker options (the setting ``HARNESS_EXPECT``: checker name → table,
    as a scenario's ``[expect.<name>]``) under the scenario's: a table the scenario gives for a
    checker replaces the project's for that checker. What the run records is the merged table,
    so a saved run is judged the same way without the project."""
    from django.conf import settings

    from harness.checkers.expectations import parse as parse_expect

    own = getattr(settings, "HARNESS_EXPECT", None)
    if not own:
        return
    source = f"settings {getattr(settings, 'SETTINGS_MODULE', '?')}: HARNESS_EXPECT"
    if not isinstance(own, dict) or "checks" in own:
        raise ScenarioError(source, "", "a dict of checker name → options (no 'checks')")
    parse_expect(own, source)  # the project's own errors name the setting
    for name, table in own.items():
        scenario.expect.setdefault(name, table)


def resolve_invariants(scenario: Scenario) -> list[Chosen]:
    """The run's invariants (``[[expect.custom]]``, installed ``dq_harness.checkers`` entry
    points), imported, each collection they declare checked against the project's models:
    an unknown label, field or lookup, or a bad ``when``, is one line now, not after the run."""
    from harness.checkers import CHECKERS
    from harness.checkers.custom import chosen
    from harness.checkers.expectations import parse as parse_expect

    expectations = parse_expect(scenario.expect, scenario.source)
    checks = scenario.checks if scenario.checks is not None else expectations.checks
    found = chosen(expectations.custom, checks, scenario.source, list(CHECKERS))
    for c in found:
        for key, spec in c.invariant.collect.items():
            _check_rows(scenario.source, c, key, spec)
    return found


def _check_rows(source: str, c: Chosen, key: str, spec: Any) -> None:
    from django.apps import apps
    from django.core.exceptions import FieldError

    where = f"{c.where}.call" if c.where.startswith("expect.") else c.where
    what = f"invariant {c.name!r} collects {key!r}"
    mistake = spec.mistake()
    if mistake is not None:
        raise ScenarioError(source, where, f"{what}: {mistake}")
    try:
        model = apps.get_model(spec.model)
    except (LookupError, ValueError):
        reason = f"{what} from {spec.model!r}: no installed model has this label (app_label.Model)"
        raise ScenarioError(source, where, reason) from None
    try:
        model._default_manager.filter(**spec.filter).values(*spec.fields)
    except (FieldError, TypeError, ValueError) as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise ScenarioError(source, where, f"{what} from {spec.model}: {first}") from None


def fake_class(spec: FakeSpec, source: str) -> type:
    """The class of ``[fakes.NAME]``: the built-in one, or the project's own (``app``)."""
    import importlib

    from harness.fakes import FAKES
    from harness.fakes.base import FakeApp

    if spec.app is None:
        if spec.name not in FAKES:  # a Scenario built in Python; TOML is checked when parsed
            reason = f"unknown fake; choose from {', '.join(FAKES)}, or give its class as app"
            raise ScenarioError(source, f"fakes.{spec.name}", reason)
        return FAKES[spec.name]
    where = f"fakes.{spec.name}.app"
    module, _, name = spec.app.rpartition(":" if ":" in spec.app else ".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except AttributeError:
        raise ScenarioError(source, where, f"module {module!r} has no {name!r}") from None
    except Exception as exc:  # ImportError, or the module itself raising while it imports
        first = (str(exc).splitlines() or [""])[0]
        reason = f"cannot import {module!r}: {type(exc).__name__}: {first}"
        raise ScenarioError(source, where, reason) from None
    if not (isinstance(cls, type) and issubclass(cls, FakeApp)):
        reason = f"{spec.app!r} is not a fake: subclass harness.fakes.FakeService"
        raise ScenarioError(source, where, reason)
    if spec.name in FAKES and cls is not FAKES[spec.name]:
        reason = f"{spec.name!r} is the built-in {spec.name} fake: give yours another name"
        raise ScenarioError(source, where, reason)
    return cls


def fake_operations(cls: type) -> frozenset[str] | None:
    """The operations a fault rule may name for ``cls`` (None: it does not declare them)."""
    from harness.fakes import FAKES
    from harness.fakes.operations import OPERATIONS
    from harness.fakes.service import FakeService

    if issubclass(cls, FakeService):
        return cls.operations
    builtin = [kind for kind, known in FAKES.items() if known is cls]
    return OPERATIONS[builtin[0]] if builtin else None


def check_fake(spec: FakeSpec, cls: type, source: str) -> type:
    """Its options are constructor keywords; its fault rules name operations it declares."""
    from harness.fakes.base import option_names

    accepted = option_names(cls)
    for name in spec.options:
        if name not in accepted:
            reason = f"unknown option {name!r} of {cls.__name__}; accepted: {', '.join(accepted)}"
            raise ScenarioError(source, f"fakes.{spec.name}.options.{name}", reason)
    known = fake_operations(cls)
    for j, rule in enumerate(spec.faults):
        wanted = rule.get("operation", [])
        for op in [wanted] if isinstance(wanted, str) else wanted:
            if known is not None and op not in known:
                reason = (
                    f"unknown value {op!r}: {cls.__name__} declares "
                    f"{', '.join(sorted(known)) or 'no operations'}"
                )
                raise ScenarioError(source, f"fakes.{spec.name}.faults[{j}].operation", reason)
    return cls
