"""The plugin's fixtures: ``qsim``, ``virtual_clock``, ``run_scenario`` and ``scenario``.

Typed for the user's editor and type checker (the package ships ``py.typed``); the types are
imported only for checking, so loading the plugin still imports nothing of Django.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

import pytest

from harness.pytest.markers import qsim_kwargs, scenario_args

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path

    from harness.run.result import RunResult
    from harness.scenario import Scenario
    from harness.sim.clock import VirtualClock
    from harness.sim.simulation import Simulation


class RunScenario(Protocol):
    """The ``run_scenario`` fixture: :func:`harness.replay` with the test's database access."""

    def __call__(
        self,
        scenario: str | Path | Scenario,
        seed: int | None = None,
        until: str | dt.datetime | None = None,
        baseline: str | Path | None = None,
        database: str | None = None,
        faithful: bool = False,
    ) -> RunResult: ...


def _ensure_db(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("django_db") is None:
        request.getfixturevalue("db")


@pytest.fixture
def qsim(request: pytest.FixtureRequest) -> Iterator[Simulation]:
    """A deterministic in-process Django-Q2 cluster under a virtual clock, on the test's
    database (inside pytest-django's test transaction, or ``django_db(transaction=True)``)."""
    options = qsim_kwargs(request.node)
    _ensure_db(request)
    from harness.sim.simulation import Simulation

    start = options.pop("start")
    clusters = options.pop("clusters", None)
    with Simulation(start, clusters, **options) as sim:
        yield sim


@pytest.fixture
def virtual_clock(request: pytest.FixtureRequest) -> Iterator[VirtualClock]:
    """A stopped clock behind ``timezone.now()`` and ``time.time()``; only the test moves it."""
    from harness.sim.clock import VirtualClock

    options = qsim_kwargs(request.node)
    with VirtualClock(options["start"], options.get("engine") or "time-machine") as clock:
        yield clock


@pytest.fixture
def run_scenario(request: pytest.FixtureRequest) -> RunScenario:
    """Replay scenarios on fresh databases: ``run_scenario("lost-response", seed=3)`` — the
    arguments of :func:`harness.replay` (a name, a path to a TOML file, or a
    :class:`~harness.scenario.Scenario`; ``until``: an offset like ``"2d"``, an ISO time or a
    datetime; ``baseline``, ``database``, ``faithful``)."""
    blocker = request.getfixturevalue("django_db_blocker")

    def run(
        scenario: str | Path | Scenario,
        seed: int | None = None,
        until: str | dt.datetime | None = None,
        baseline: str | Path | None = None,
        database: str | None = None,
        faithful: bool = False,
    ) -> RunResult:
        from harness.run import runner

        with blocker.unblock():
            return runner.run(
                scenario,
                seed=seed,
                until=until,
                baseline=baseline,
                database=database,
                faithful=faithful,
            )

    return run


@pytest.fixture
def scenario(request: pytest.FixtureRequest, run_scenario: RunScenario) -> RunResult:
    """The result of the scenario named by ``@pytest.mark.scenario(...)``."""
    from harness.errors import HarnessError, UserCodeError

    ref, options = scenario_args(request.node)
    try:
        return run_scenario(ref, **options)
    except UserCodeError:
        raise  # the project's own code crashed: not a usage error
    except HarnessError as exc:  # the marker's scenario, until or baseline: a usage error
        raise pytest.UsageError(f"@pytest.mark.scenario: {exc}") from None
