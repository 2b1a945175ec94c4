"""The harness's pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

* ``qsim`` — a running :class:`~harness.sim.simulation.Simulation` on the test's database.
  Configure it with ``@pytest.mark.qsim(start=..., seed=..., clusters=[...], durations=..., engine=...,
  raise_task_errors=..., broker=...)``. Works inside pytest-django's test transaction (the
  default ``django_db``) and with ``django_db(transaction=True)``. Findings that django-q2 only
  logs (a scheduler pass that raised, a result that could not be saved) fail the test.
* ``virtual_clock`` — just the clock (``advance``, ``move_to``), for tests that drive
  django-q2's pieces themselves.

Loaded before Django is configured, so it imports nothing from Django or django-q2 at module
level.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

DEFAULT_START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday: weekly schedules read well


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "qsim(start=None, seed=0, clusters=None, durations=None, engine='time-machine', "
        "raise_task_errors=False, broker='orm', watchdog_seconds=10): configure the "
        "in-process Django-Q2 simulation of the qsim fixture",
    )
    config.addinivalue_line(
        "markers",
        "scenario(ref, seed=None, until=None): the scenario the `scenario` fixture replays "
        "(a shipped name, a path to a TOML file, or a harness.scenario.Scenario)",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say which database the run uses and how long it took to get it ready."""
    from harness.infra import database

    found = database._RESOLVED  # resolved by the settings module, if it uses the harness
    if found is None:
        return None
    return f"dq-harness database: {found.description}, ready in {found.ready_seconds:.2f} s"


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("qsim")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    start = options.pop("start", None) or DEFAULT_START
    if isinstance(start, str):
        start = datetime.fromisoformat(start)
    options["start"] = start
    return options


def _ensure_db(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        request.getfixturevalue("db")


@pytest.fixture
def qsim(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A deterministic in-process Django-Q2 cluster under a virtual clock."""
    _ensure_db(request)
    from harness.sim.simulation import Simulation

    options = _options(request)
    start = options.pop("start")
    clusters = options.pop("clusters", None)
    sim = Simulation(start, clusters, **options)
    with sim:
        yield sim


@pytest.fixture
def virtual_clock(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A stopped clock behind ``timezone.now()`` and ``time.time()``; only the test moves it."""
    from harness.sim.clock import VirtualClock

    options = _options(request)
    with VirtualClock(options["start"], options.get("engine", "time-machine")) as clock:
        yield clock


def _replay(ref: Any, seed: int | None = None, until: Any = None) -> Any:
    from harness.run import runner
    from harness.scenario import Scenario, load, parse_duration

    scenario = ref if isinstance(ref, Scenario) else load(ref)
    if isinstance(until, str):
        offset = parse_duration(until)
        until = scenario.start + offset if offset is not None else datetime.fromisoformat(until)
    return runner.run(scenario, seed=seed, until=until)


@pytest.fixture
def run_scenario(request: pytest.FixtureRequest) -> Any:
    """Replay scenarios on fresh databases: ``run_scenario("lost-response", seed=3)``."""
    blocker = request.getfixturevalue("django_db_blocker")

    def run(ref: Any, seed: int | None = None, until: Any = None) -> Any:
        with blocker.unblock():
            return _replay(ref, seed=seed, until=until)

    return run


@pytest.fixture
def scenario(request: pytest.FixtureRequest, run_scenario: Any) -> Any:
    """The result of the scenario named by ``@pytest.mark.scenario(...)``."""
    marker = request.node.get_closest_marker("scenario")
    if marker is None or not marker.args:
        raise pytest.UsageError("the scenario fixture needs @pytest.mark.scenario('name', ...)")
    return run_scenario(marker.args[0], **marker.kwargs)
