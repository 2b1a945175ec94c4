"""Scenario → fresh database → Simulation → record → checkers → :class:`RunResult`.

One replay, start to end:

1. the project is found and Django set up (:mod:`harness.run.project`); every dotted path and
   command resolves, or nothing runs (:func:`harness.scenario.resolve_paths`);
2. a fresh database is copied from the migrated template (:mod:`harness.infra.freshdb`);
3. the Simulation opens at the start (patches, the virtual clock, seeded ``uuid4``/``random``),
   the fakes are mounted (:mod:`harness.run.fakes`), the project is deployed at the virtual
   start and the load scheduled (:mod:`harness.run.deploy`);
4. the simulation runs to the end in one-hour steps (a progress callback per step), or to the
   instant a watchdog stopped a call;
5. what the run recorded — timeline, ledger, one end-of-run snapshot (:mod:`harness.run.
   snapshot`) — becomes a :class:`~harness.record.run.RunRecord`, which the checkers judge
   through its JSON form (:mod:`harness.run.judge`): a saved run is judged the same way.

Console log handlers are muted during a replay (it prints its own summary) while every record
is captured for the secrets checker.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.compat import django_q_version
from harness.errors import HarnessError, RunInterrupted, Terminated
from harness.record.run import RunRecord, ScenarioFacts, redact
from harness.record.timeline import RUN_STOPPED, TASK_ENQUEUED
from harness.run.project import isolated_media
from harness.run.result import RunResult
from harness.scenario import Scenario, ScenarioError, resolve_paths

__all__ = ["RunResult", "ensure_django", "replay_here", "reproduce_command", "run"]

STEP = dt.timedelta(hours=1)
Progress = Callable[[dt.datetime, dt.datetime, dt.datetime], None]  # (now, start, end)


def ensure_django(module: str | None, scenario: Scenario, database: str | None = None) -> str:
    """Put the project on ``sys.path`` and set Django up (or check it already runs with the
    same settings). Returns the settings module used. See :mod:`harness.run.project`."""
    from harness.run import project

    project.add_paths(scenario.project_root, scenario.paths)
    chosen = project.settings_module(module, scenario.settings, scenario.source)
    project.setup(chosen, database or scenario.database)
    return chosen


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.levelname} {record.name}: {record.getMessage()}"
        except Exception:  # a broken format string in someone's log call
            text = f"{record.levelname} {record.name}: {record.msg!r}"
        if record.exc_info and record.exc_info[1] is not None:
            text += " | " + " ".join(logging.Formatter().formatException(record.exc_info).split())
        self.lines.append(text)


def _capturing(original: Callable[..., Any], capture: _Capture) -> Callable[..., Any]:
    def handle(self: logging.Logger, record: logging.LogRecord) -> Any:
        capture.handle(record)
        return original(self, record)

    handle.__wrapped__ = original  # type: ignore[attr-defined]
    return handle


@contextlib.contextmanager
def captured_logs() -> Iterator[list[str]]:
    """Mute console handlers (a replay prints its own summary) and capture every record.

    Captured where a logger handles it, not by a handler on the root: a project logger with
    ``propagate = False`` (or its own handlers only) is captured too, and a task's WARNING+
    record its levels would drop is made for the harness (:mod:`harness.sim.scopes`) and
    captured here, without reaching the project's handlers."""
    from harness.patching import Patches
    from harness.sim.patches import mute_console

    patches = Patches()
    mute_console(patches)
    capture = _Capture()
    patches.set(
        logging.Logger,
        "handle",
        _capturing(logging.Logger.handle, capture),
        "capture every record a logger handles, whatever the project's handlers and propagation",
    )
    try:
        yield capture.lines
    finally:
        patches.undo()


def reproduce_command(
    scenario: Scenario,
    seed: int,
    until: dt.datetime | None,
    ref: str | None = None,
    settings: str | None = None,
    database: str | None = None,
    baseline: str | None = None,
) -> str:
    """The exact command line that replays this run (from the same directory), with every flag
    that changes its verdict."""
    import shlex

    parts = ["harness", "replay", ref or scenario.source, "--seed", str(seed)]
    if until is not None and until < scenario.end:
        parts += ["--until", until.isoformat()]
    if settings:
        parts += ["--settings", settings]
    if database and database != "project":
        parts += ["--database", database]
    if baseline:
        parts += ["--baseline", baseline]
    return shlex.join(parts)


def run(
    scenario: Scenario | str | Path,
    *,
    seed: int | None = None,
    until: str | dt.datetime | None = None,
    progress: Progress | None = None,
    settings: str | None = None,
    database: str | None = None,
    faithful: bool = False,
    baseline: str | Path | None = None,
    max_arrivals: int | None = None,
) -> RunResult:
    """Replay ``scenario`` on a fresh database and judge it (``harness.replay``).

    ``scenario``: a :class:`Scenario`, a shipped name or a path to a TOML file; ``until``: an
    offset (``"2d"``), an ISO time (naive: the scenario's zone) or a datetime; ``faithful``: no
    accelerations, django-q2's own code everywhere (the same timeline, slower); ``baseline``: a
    file of known problems, else the scenario's own; ``max_arrivals``: the load's ceiling."""
    from harness.checkers.baseline import Baseline
    from harness.scenario import parse_until, read
    from harness.scenario.arrivals import check_ceiling

    ref = None if isinstance(scenario, Scenario) else str(scenario)  # for the reproduce command
    if not isinstance(scenario, Scenario):
        scenario = read(scenario)
    until = parse_until(until, scenario)

    check_ceiling(scenario, arrival_ceiling(max_arrivals))  # before any database is made
    chosen = baseline or scenario.baseline
    known = Baseline.read(chosen) if chosen else None  # read before anything runs
    module = ensure_django(settings, scenario, database)
    from harness.infra.freshdb import fresh_database

    def command(seed: int) -> str:
        where = database or scenario.database
        flag = str(baseline) if baseline else None
        return reproduce_command(scenario, seed, until, ref, module, where, flag)

    with fresh_database():  # an interrupted run's partial result has its command too
        return replay_here(
            scenario,
            seed=seed,
            until=until,
            progress=progress,
            faithful=faithful,
            baseline=known,
            max_arrivals=max_arrivals,
            reproduce=command,
        )


def arrival_ceiling(given: int | None = None) -> int:
    """The ceiling of load arrivals: ``given``, else ``HARNESS_MAX_ARRIVALS``, else 1,000,000."""
    import os

    from harness.scenario.arrivals import MAX_ARRIVALS

    if given is not None:
        if given < 1:
            raise HarnessError(f"--max-arrivals {given}: expected a whole number, 1 or more")
        return given
    raw = os.environ.get("HARNESS_MAX_ARRIVALS", "").strip()
    if not raw:
        return MAX_ARRIVALS
    if not raw.isdigit() or int(raw) < 1:
        raise HarnessError(f"HARNESS_MAX_ARRIVALS={raw!r}: expected a whole number, 1 or more")
    return int(raw)


def replay_here(
    scenario: Scenario,
    *,
    seed: int | None = None,
    until: dt.datetime | None = None,
    progress: Progress | None = None,
    faithful: bool = False,
    baseline: Any = None,
    max_arrivals: int | None = None,
    reproduce: Callable[[int], str] | None = None,
) -> RunResult:
    """Replay ``scenario`` on the database Django is connected to now, and judge it
    (``baseline``: a :class:`~harness.checkers.baseline.Baseline` of known problems;
    ``reproduce``: the command line that replays the run, given its seed — by default from the
    scenario and the settings Django runs with; :func:`run` adds its reference and flags).

    The caller owns isolation: :func:`run` wraps this in a fresh database; a search that
    replays hundreds of variants wraps each in a rolled-back transaction instead
    (:func:`harness.search.explore.rollback_runner`). Django must be set up
    (:func:`ensure_django`).
    """
    from harness.run.judge import judge_record
    from harness.scenario.arrivals import check_ceiling

    check_ceiling(scenario, arrival_ceiling(max_arrivals))
    resolved = resolve_paths(scenario)
    seed = scenario.seed if seed is None else seed
    end = scenario.end if until is None else max(scenario.start, min(scenario.end, until))
    with captured_logs() as logs, isolated_media(), _overridden(scenario):
        record = _simulate(scenario, resolved, seed, end, progress, logs, faithful)
    record.baseline = None if baseline is None else baseline.to_json()
    recorded, judged = judge_record(record)  # what was recorded: no secret left in it
    if reproduce is None:
        command = reproduce_command(scenario, seed, until, settings=_current_settings())
    else:
        command = reproduce(seed)
    result = RunResult(
        record=recorded,
        verdicts=judged.verdicts,
        command=command,
        scenario=scenario,
        fixed=judged.fixed,
    )
    if record.interrupted:
        raise RunInterrupted(result, record.interrupted)
    return result


def _simulate(
    scenario: Scenario,
    resolved: dict[str, Callable[..., Any]],
    seed: int,
    end: dt.datetime,
    progress: Progress | None,
    logs: list[str],
    faithful: bool = False,
) -> RunRecord:
    """Run the scenario to ``end`` (or to a watchdog stop) and record what happened."""
    import responses

    from harness.run import fakes as fake_mounts
    from harness.run import snapshot
    from harness.run.collect import Collector, redacted
    from harness.run.deploy import deploy, schedule_loads
    from harness.run.snapshot import schedules as snapshot_schedules
    from harness.scenario.resolve import resolve_invariants

    sim = simulation_for(scenario, seed, faithful)
    collector = Collector(resolve_invariants(scenario), scenario.zone)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps, sim:
        ledger, built, rules = fake_mounts.mount(scenario, sim, rsps, seed)
        secrets = snapshot.secret_values(_expectations(scenario).of("secrets"), built)
        collector.install(sim)
        try:
            deploy(sim, scenario, resolved, built)
        except HarnessError as exc:  # a setup step's error may quote a secret
            raise type(exc)(redact(str(exc), secrets)) from None
        setup_schedules = snapshot_schedules()
        schedule_loads(sim, scenario, resolved, seed)
        try:
            end = _advance(sim, scenario, end, progress, collector)
        except KeyboardInterrupt as exc:  # Ctrl+C or SIGTERM: judge and write what there is
            end = _interrupted(sim, "SIGTERM" if isinstance(exc, Terminated) else "SIGINT")
        collector.at_end(end)
        record = _record(sim, scenario, seed, end, ledger, built, rules, logs, setup_schedules)
        record.snapshot.collected = redacted(collector.data, record.secret_values)
        return record


def _interrupted(sim: Any, signal: str) -> dt.datetime:
    """Mark the run as stopped by ``signal`` at this instant; leave the connection usable for
    the end-of-run snapshot (a statement the interrupt cut may have broken it)."""
    from django.db import connection

    sim.interrupted = signal
    sim.timeline.add(sim.now(), RUN_STOPPED, reason="interrupted", signal=signal)
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
    except Exception:
        connection.close()  # the next query reconnects
    return sim.now()


@contextlib.contextmanager
def _overridden(scenario: Scenario) -> Iterator[None]:
    """The scenario's ``[override_settings]`` for the replay, restored after it."""
    if not scenario.override_settings:
        yield
        return
    from django.test.utils import override_settings

    with override_settings(**scenario.override_settings):
        yield


def simulation_for(scenario: Scenario, seed: int, faithful: bool = False) -> Any:
    """The (unopened) :class:`~harness.sim.simulation.Simulation` a replay of ``scenario`` runs."""
    from harness.sim.cluster import Durations
    from harness.sim.runaway import RunawayBudget
    from harness.sim.simulation import Simulation

    per_func = {**scenario.durations_from, **scenario.durations_per_func}  # explicit ones win
    durations = Durations(scenario.durations_default, per_func, seed=seed)
    return Simulation(
        scenario.start,
        _cluster_specs(scenario),
        seed=seed,
        durations=durations,
        strict=False,
        watchdog=scenario.watchdog,
        lock_helpers=scenario.lock_helpers,
        faithful=faithful,
        runaway=RunawayBudget(**scenario.runaway),
    )


def _advance(
    sim: Any, scenario: Scenario, end: dt.datetime, progress: Progress | None, collector: Any
) -> dt.datetime:
    """One-hour steps to ``end`` (and a stop at each local midnight when an invariant collects
    daily); returns where the run ended (a watchdog stop ends it)."""
    if end <= scenario.start:
        return end
    midnights = collector.midnights(scenario.start, end)
    hours = [scenario.start + STEP * (i + 1) for i in range(int((end - scenario.start) / STEP))]
    for t in sorted({*hours, *midnights, end}):
        sim.run_until(t)
        if progress is not None:
            progress(sim.now() if sim.stopped else t, scenario.start, end)
        if sim.stopped is not None:  # a call never returned: judge the run up to here
            return sim.now()
        if t in midnights:
            collector.at_midnight(t)
    return end


def _record(
    sim: Any,
    scenario: Scenario,
    seed: int,
    end: dt.datetime,
    ledger: Any,
    built: dict[str, Any],
    rules: list[dict[str, Any]],
    logs: list[str],
    setup_schedules: list[dict[str, Any]],
) -> RunRecord:
    """The run as recorded: timeline, ledger and the one end-of-run snapshot."""
    from django_q.conf import Conf

    from harness.run import snapshot

    expectations = _expectations(scenario)
    secrets = snapshot.secret_values(expectations.of("secrets"), built)
    funcs = {t.data["func"] for t in sim.timeline.of(TASK_ENQUEUED) if t.data.get("func")}
    return RunRecord(
        scenario=ScenarioFacts(
            name=scenario.name,
            source=scenario.source,
            time_zone=scenario.time_zone,
            start=scenario.start,
            duration=scenario.duration,
            seed=scenario.seed,
            expect=scenario.expect,
            checks=scenario.checks,
            loads=[
                {"name": spec.name, "call": spec.call, "allow_failures": spec.allow_failures}
                for spec in scenario.loads
            ],
        ),
        seed=seed,
        end=end,
        timeline=sim.timeline,
        clusters=[c.spec for c in sim.clusters],
        broker=sim.broker,
        default_cluster=Conf.PREFIX,
        ledger=None if ledger is None else ledger.entries(),
        findings=list(sim.findings),
        fault_rules=rules,
        snapshot=snapshot.take(
            setup_schedules=setup_schedules,
            logs=logs,
            secrets=secrets,
            audit_options=expectations.of("audit"),
            start=scenario.start,
            funcs=funcs,
            task_functions=snapshot.task_functions(
                [scenario.project_root or Path.cwd(), *scenario.paths]
            ),
        ),
        stopped=sim.stopped,
        interrupted=sim.interrupted,
        django_q=django_q_version(),
        secret_values=secrets,
    )


def _expectations(scenario: Scenario) -> Any:
    """The scenario's ``[expect]``, read (:func:`harness.checkers.expectations.parse`)."""
    from harness.checkers.expectations import parse

    return parse(scenario.expect, scenario.source)


def _cluster_specs(scenario: Scenario) -> list[Any]:
    """The project's cluster (``[cluster]``), then each ``[[clusters]]`` entry: ``Q_CLUSTER``
    with the name's ``ALT_CLUSTERS`` entry applied (as ``Q_CLUSTER_NAME=<name>`` does), then
    the scenario's overrides."""
    from django.conf import settings

    from harness.sim.cluster import SETTINGS, ClusterSpec

    fields = {s.field for s in SETTINGS}
    alt = (getattr(settings, "Q_CLUSTER", None) or {}).get("ALT_CLUSTERS") or {}
    overrides = dict(scenario.cluster)
    if scenario.downtime:
        overrides["downtime"] = list(scenario.downtime)
    tables = [("cluster", overrides)]
    for i, named in enumerate(scenario.clusters):
        own = {k: v for k, v in (alt.get(named["name"]) or {}).items() if k in fields}
        tables.append((f"clusters[{i}]", {**own, **named}))
    specs = []
    names: dict[str | None, str] = {}
    for where, values in tables:
        try:
            spec = ClusterSpec.from_conf(**values)
        except TypeError as exc:
            raise ScenarioError(scenario.source, where, str(exc)) from None
        if spec.name in names:  # two clusters serving one queue under one name
            raise ScenarioError(
                scenario.source,
                f"{where}.name",
                f"{spec.name!r} is already the name of {names[spec.name]} (the project's own "
                "cluster is named by Q_CLUSTER's name): each cluster needs a name of its own",
            )
        names[spec.name] = "[cluster]" if where == "cluster" else where
        specs.append(spec)
    return specs


def _current_settings() -> str | None:
    from django.conf import settings

    return getattr(settings, "SETTINGS_MODULE", None)
