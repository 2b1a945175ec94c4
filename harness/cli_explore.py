"""``harness explore SCENARIO --budget N [--seed S]``: search fault plans, shrink, write a replay.

Exit codes follow the CLI contract: 0 = no plan within the budget broke a check (or, with
``--replay``, the scenario passed); 1 = a check failed — the minimal failing scenario is written
and the replay command printed; 2 = bad input (one line on stderr, nothing written).

Outside pytest the command configures Django itself (``--settings``, else
``DJANGO_SETTINGS_MODULE``, else ``config.settings.test``) and runs on a database of its own
(the settings' test database name + ``_explore``, created and migrated on first use, kept after);
every run is rolled back.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.explore_scenario import Scenario

DEFAULT_SETTINGS = "config.settings.test"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explore",
        help="search fault plans with Hypothesis; shrink a failure to a minimal scenario",
    )
    p.add_argument("scenario", help="scenario file (.toml) with an [explore] table")
    p.add_argument("--budget", type=int, default=200, help="fault plans to try (default 200)")
    p.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    p.add_argument(
        "--out", help="where to write the minimal failing scenario (default explore/<name>.toml)"
    )
    p.add_argument(
        "--replace",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="run other task code: rename a function or module prefix (repeatable)",
    )
    p.add_argument(
        "--replay",
        action="store_true",
        help="no search: run the scenario with its own [faults] once (exit 1 if a check fails)",
    )
    p.add_argument("--settings", help="Django settings module (default: $DJANGO_SETTINGS_MODULE)")
    p.set_defaults(handler=_cmd_explore)


def _swaps(items: list[str]) -> dict[str, str]:
    swaps = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise HarnessError(f"--replace: expected OLD=NEW, got {item!r}")
        swaps[old] = new
    return swaps


def prepare_django(settings_module: str | None) -> None:
    """Configure Django and a migrated database unless a caller (pytest) already did."""
    from django.apps import apps

    if apps.ready:
        return
    os.environ["DJANGO_SETTINGS_MODULE"] = (
        settings_module or os.environ.get("DJANGO_SETTINGS_MODULE") or DEFAULT_SETTINGS
    )
    import django
    from django.db import connection
    from django.test.utils import setup_databases

    try:
        django.setup()
    except Exception as exc:  # an import error in the settings, a missing module ...
        raise HarnessError(f"cannot configure Django: {type(exc).__name__}: {exc}") from None
    test = connection.settings_dict.setdefault("TEST", {})
    test["NAME"] = f"{test.get('NAME') or 'test_' + connection.settings_dict['NAME']}_explore"
    with contextlib.redirect_stdout(io.StringIO()):  # "Cache table ... already exists."
        setup_databases(verbosity=0, interactive=False, keepdb=True)
    # Runs fail tasks on purpose: keep django-q2's per-task log lines off the terminal.
    logging.getLogger("django-q").propagate = False


def _cmd_explore(args: argparse.Namespace) -> int:
    from harness.explore_scenario import Scenario

    if args.budget < 1:
        raise HarnessError(f"--budget: must be at least 1, got {args.budget}")
    swaps = _swaps(args.replace)
    base = Scenario.load(args.scenario)
    scenario = base.replacing(swaps)
    _check_importable(scenario)
    prepare_django(args.settings)
    if args.replay:
        return _replay(scenario)
    return _search(base, scenario, args, swaps)


def _check_importable(scenario: Scenario) -> None:
    from django.utils.module_loading import import_string

    for task in scenario.tasks:
        try:
            import_string(task.func)
        except ImportError as exc:
            raise HarnessError(f"task {task.func}: cannot import: {exc}") from None


def _replay(scenario: Scenario) -> int:
    from harness.explore_scenario import run

    result = run(scenario)
    for line in result.failures:
        print(f"FAIL {line}")
    print(f"{'FAILED' if result.failures else 'PASSED'}: {scenario.name}")
    return 1 if result.failures else 0


def _search(
    base: Scenario, scenario: Scenario, args: argparse.Namespace, swaps: dict[str, str]
) -> int:
    from harness.explore import explore, replay_command

    began = time.monotonic()
    outcome = explore(scenario, args.budget, args.seed)
    elapsed = time.monotonic() - began
    if not outcome.found:
        print(
            f"no failure in {outcome.examples} fault plans (seed {args.seed}, "
            f"{elapsed:.1f} s): every check passed"
        )
        return 0
    assert outcome.plan is not None and outcome.result is not None
    name = f"{scenario.name}-minimal"
    out = Path(args.out or Path("explore") / f"{name}.toml")
    header = (
        f"Written by: harness explore {args.scenario} --budget {args.budget} --seed {args.seed}\n"
        f"Minimal fault plan after {outcome.examples} runs; it makes these checks fail:\n"
        + "\n".join(f"  {line}" for line in outcome.result.failures)
    )
    base.with_faults(outcome.plan, name=name).write(out, header)  # the file's own task code
    rules = len(outcome.plan["rules"])
    print(f"FAIL after {outcome.examples} runs ({elapsed:.1f} s), shrunk to {rules} fault rule(s)")
    print(f"      ({outcome.result.faults_fired} fault(s) fired in the minimal run):")
    for line in outcome.result.failures:
        print(f"  {line}")
    print(f"minimal scenario: {out}")
    print(f"replay: {replay_command(str(out), swaps)}")
    print(f"   (until `harness replay` exists: harness explore {out} --replay)")
    return 1


if __name__ == "__main__":  # pragma: no cover
    from harness.cli import main

    sys.exit(main(["explore", *sys.argv[1:]]))
