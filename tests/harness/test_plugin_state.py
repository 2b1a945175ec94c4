"""The plugin keeps its state on ``config.stash``, imports nothing of Django, and its fixtures
carry real types (the package ships ``py.typed``)."""

from __future__ import annotations

import datetime as dt
import inspect
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

import harness
from harness.infra import database
from harness.pytest import fixtures
from harness.pytest.plugin import database_key, pytest_report_header
from harness.run.result import RunResult
from harness.scenario import Scenario
from harness.sim.clock import VirtualClock
from harness.sim.simulation import Simulation


def test_the_header_names_the_database_this_session_noted(pytestconfig):
    found = database.resolved()
    assert found is not None  # the test settings take the harness's database
    assert pytestconfig.stash[database_key] is found
    header = pytest_report_header(pytestconfig)
    assert header == f"dq-harness database: {found.description}, ready in " + (
        f"{found.ready_seconds:.2f} s"
    )


def test_a_session_that_noted_no_database_has_no_header():
    noted_none, noted_nothing = (
        SimpleNamespace(stash=pytest.Stash()),
        SimpleNamespace(stash=pytest.Stash()),
    )
    noted_none.stash[database_key] = None  # its settings do not use the harness's database
    assert pytest_report_header(noted_none) is None  # type: ignore[arg-type]
    assert pytest_report_header(noted_nothing) is None  # type: ignore[arg-type]


def test_loading_the_plugin_imports_nothing_of_django():
    code = (
        "import sys, harness.pytest.plugin, harness.pytest.replays; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'django_q'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_fixtures_are_typed_and_the_package_says_so():
    names = {
        "Simulation": Simulation,
        "VirtualClock": VirtualClock,
        "RunResult": RunResult,
        "Scenario": Scenario,
        "Path": Path,
        "dt": dt,
    }

    def returns(fixture: typing.Any) -> typing.Any:
        hints = typing.get_type_hints(inspect.unwrap(fixture), localns=names)
        return hints["return"]

    assert returns(fixtures.qsim) == Iterator[Simulation]
    assert returns(fixtures.virtual_clock) == Iterator[VirtualClock]
    assert returns(fixtures.scenario) is RunResult
    assert returns(fixtures.run_scenario) is fixtures.RunScenario
    call = typing.get_type_hints(fixtures.RunScenario.__call__, localns=names)
    assert call["return"] is RunResult and call["scenario"] == str | Path | Scenario
    assert (Path(harness.__file__).parent / "py.typed").is_file()
