"""Scenario → fresh database → Simulation → checkers → :class:`RunResult`.

One replay, start to end:

1. Django is set up with the scenario's settings module; every dotted path and command is
   resolved (a problem is a :class:`~harness.scenario.ScenarioError`, nothing runs);
2. a fresh database is copied from the migrated template (:mod:`harness.infra.freshdb`);
3. the fakes are mounted in-process on one ``responses.RequestsMock`` (no real network) and
   their ledger is copied into the timeline;
4. the Simulation opens at the scenario start, so the setup commands run under the virtual clock
   and schedules get their ``next_run`` from virtual time;
5. load arrivals are injected with ``sim.at``; the simulation runs to the end in one-hour steps
   (progress callback per step);
6. the checkers judge the timeline, the ledger and the end-of-run database; the database is
   dropped.

During a run ``uuid.uuid4`` and the ``random`` module are seeded (applications use them for
nonces and lock tokens, which reach task arguments), and console log handlers are muted while
every log record is captured for the secrets checker.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.checkers import RunContext, Verdict, run_all
from harness.compat import django_q_version
from harness.errors import HarnessError
from harness.record.findings import describe
from harness.record.timeline import Timeline
from harness.scenario import FakeSpec, Scenario, ScenarioError, resolve_paths

STEP = dt.timedelta(hours=1)
Progress = Callable[[dt.datetime, dt.datetime, dt.datetime], None]  # (now, start, end)
_SETTING = re.compile(r"\{settings\.([A-Za-z_][A-Za-z0-9_]*)\}")
_CREDENTIAL_OPTIONS = ("password", "secret_key", "webhook_secret", "token")


@dataclass
class RunResult:
    """What a replay produced; ``ok`` when every checker holds."""

    scenario: Scenario
    seed: int
    end: dt.datetime
    timeline: Timeline
    stats: dict[str, dict[str, int]]
    verdicts: list[Verdict]
    clusters: list[Any]
    ledger: Any = None
    command: str = ""
    schedules: list[dict[str, Any]] = field(default_factory=list)
    stopped: dict[str, Any] | None = None  # the watchdog finding that ended the run early

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.ok]

    def explain(self) -> str:
        """One line per failed checker (for assertion messages)."""
        if self.ok:
            return f"{self.scenario.name}: every check holds"
        return "\n".join(f"{v.name}: {v.message}" for v in self.failed)

    def verdict(self, name: str) -> Verdict:
        return next(v for v in self.verdicts if v.name == name)

    def to_dict(self) -> dict[str, Any]:
        from harness.record.timeline import format_time

        return {
            "scenario": self.scenario.name,
            "source": self.scenario.source,
            "seed": self.seed,
            "start": format_time(self.scenario.start),
            "end": format_time(self.end),
            "ok": self.ok,
            "command": self.command,
            "stats": self.stats,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "events": len(self.timeline),
            "django_q": django_q_version(),
            "stopped": None if self.stopped is None else describe(self.stopped, self.scenario.zone),
        }


# -- Django and determinism ------------------------------------------------------------------------
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


@contextlib.contextmanager
def captured_logs() -> Iterator[list[str]]:
    """Mute console handlers (a replay prints its own summary) and capture every record."""
    from harness.sim.patches import Patches, mute_console

    patches = Patches()
    mute_console(patches)
    capture = _Capture()
    logging.getLogger().addHandler(capture)
    try:
        yield capture.lines
    finally:
        logging.getLogger().removeHandler(capture)
        patches.undo()


# -- fakes -----------------------------------------------------------------------------------------
def _fill_settings(value: Any, scenario: Scenario, where: str) -> Any:
    from django.conf import settings

    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            if not hasattr(settings, m.group(1)):
                raise ScenarioError(scenario.source, where, f"no setting named {m.group(1)}")
            return str(getattr(settings, m.group(1)))

        return _SETTING.sub(sub, value)
    if isinstance(value, list):
        return [_fill_settings(v, scenario, where) for v in value]
    if isinstance(value, dict):
        return {k: _fill_settings(v, scenario, f"{where}.{k}") for k, v in value.items()}
    return value


def _webhook_sender(path: str) -> Callable[..., Any]:
    """Deliver the payments fake's webhooks to the project's own view, in-process."""
    from django.test import Client

    client = Client(HTTP_HOST="localhost")

    def send(url: str, data: Any = None, headers: Any = None, timeout: Any = None) -> Any:
        extra = {"Stripe-Signature": (headers or {}).get("Stripe-Signature", "")}
        return client.post(path, data=data, content_type="application/json", headers=extra)

    return send


def mount_fakes(
    scenario: Scenario, sim: Any, rsps: Any, seed: int
) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    """Build the ledger, the fault injector and every fake; mount them on ``rsps``."""
    from harness.fakes import (
        FakePayments,
        FakeRegistrar,
        FakeVirtualmin,
        FaultInjector,
        FaultPlan,
        Ledger,
    )
    from harness.fakes.transport import mount_responses

    if not scenario.fakes:
        return None, {}, []
    ledger = Ledger(sim.now)
    rules = [dict(rule) for spec in scenario.fakes for rule in spec.faults]
    injector = (
        FaultInjector(FaultPlan.from_dict({"rules": rules}), seed=seed, origin=scenario.start)
        if rules
        else None
    )
    built: dict[str, Any] = {}
    for spec in scenario.fakes:
        where = f"harness.fakes.{spec.kind}"
        options = _fill_settings(spec.options, scenario, f"{where}.options")
        url = _fill_settings(spec.url, scenario, f"{where}.url")
        try:
            fake = _construct(spec, ledger, sim.now, injector, options, seed)
        except TypeError as exc:
            raise ScenarioError(scenario.source, f"{where}.options", str(exc)) from None
        if spec.kind == "payments" and spec.webhook_path:
            sim.probes.append(lambda _sim, fake=fake: fake.deliver_webhooks())
        mount_responses(rsps, url, fake)
        built[spec.kind] = (fake, options)
    _ = (FakePayments, FakeRegistrar, FakeVirtualmin)
    sim.observe_ledger(ledger)
    return ledger, built, rules


def _construct(
    spec: FakeSpec, ledger: Any, now: Any, injector: Any, options: dict, seed: int
) -> Any:
    from harness.fakes import FakePayments, FakeRegistrar, FakeVirtualmin

    if spec.kind == "virtualmin":
        return FakeVirtualmin(ledger, now, injector, **options)
    if spec.kind == "registrar":
        return FakeRegistrar(ledger, now, injector, **options)
    extra: dict[str, Any] = {"seed": seed}
    if spec.webhook_path:
        extra.update(
            webhook_url=f"http://localhost{spec.webhook_path}",
            sender=_webhook_sender(spec.webhook_path),
            deliver_webhooks="manual",
        )
    return FakePayments(ledger, now, injector, **{**extra, **options})


def _secrets(scenario: Scenario, built: dict[str, Any]) -> list[tuple[str, str]]:
    from django.conf import settings

    opts = scenario.expect.get("secrets", {})
    out = []
    for name in opts.get("settings", []):
        value = getattr(settings, name, None)
        if value:
            out.append((f"setting {name}", str(value)))
    for i, value in enumerate(opts.get("values", [])):
        out.append((f"secret value #{i + 1}", str(value)))
    for kind, (_fake, options) in built.items():
        for key in _CREDENTIAL_OPTIONS:
            value = options.get(key)
            if isinstance(value, str) and len(value) >= 8:
                out.append((f"harness.fakes.{kind}.{key}", value))
    return out


# -- snapshots ------------------------------------------------------------------------------------
def _schedules() -> list[dict[str, Any]]:
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


def _queued() -> dict[str, dict[str, Any]]:
    from django_q.models import OrmQ

    out = {}
    for row in OrmQ.objects.order_by("id"):
        try:
            out[row.task_id()] = {"key": row.key, "lock": row.lock}
        except Exception:  # an unreadable payload: the worker would discard it too
            continue
    return out


def _task_rows() -> dict[str, dict[str, Any]]:
    from django_q.models import Task

    out = {}
    for row in Task.objects.order_by("started", "id").values(
        "id", "func", "args", "kwargs", "result", "success"
    ):
        text = f"{row['result']!r} {row['args']!r} {row['kwargs']!r}"
        out[row["id"]] = {"func": row["func"], "success": row["success"], "text": text}
    return out


# -- the run ---------------------------------------------------------------------------------------
def reproduce_command(
    scenario: Scenario,
    seed: int,
    until: dt.datetime | None,
    ref: str | None = None,
    settings: str | None = None,
    database: str | None = None,
) -> str:
    """The exact command line that replays this run (from the same directory)."""
    import shlex

    parts = ["harness", "replay", ref or scenario.source, "--seed", str(seed)]
    if until is not None and until < scenario.end:
        parts += ["--until", until.isoformat()]
    if settings:
        parts += ["--settings", settings]
    if database and database != "project":
        parts += ["--database", database]
    return shlex.join(parts)


def run(
    scenario: Scenario,
    *,
    seed: int | None = None,
    until: dt.datetime | None = None,
    progress: Progress | None = None,
    settings: str | None = None,
    database: str | None = None,
    ref: str | None = None,
) -> RunResult:
    """Replay ``scenario`` on a fresh database and judge it."""
    module = ensure_django(settings, scenario, database)
    from harness.infra.freshdb import fresh_database

    with fresh_database():
        result = replay_here(scenario, seed=seed, until=until, progress=progress)
    result.command = reproduce_command(
        scenario, result.seed, until, ref, module, database or scenario.database
    )
    return result


def replay_here(
    scenario: Scenario,
    *,
    seed: int | None = None,
    until: dt.datetime | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Replay ``scenario`` on the database Django is connected to now, and judge it.

    The caller owns isolation: :func:`run` wraps this in a fresh database; a search that
    replays hundreds of variants wraps each in a rolled-back transaction instead
    (:func:`harness.search.explore.rollback_runner`). Django must be set up (:func:`ensure_django`).
    """
    resolved = resolve_paths(scenario)
    seed = scenario.seed if seed is None else seed
    end = scenario.end if until is None else max(scenario.start, min(scenario.end, until))
    with captured_logs() as logs:
        return _replay(scenario, resolved, seed, end, until, progress, logs)


def _cluster_specs(scenario: Scenario) -> list[Any]:
    from harness.sim.cluster import ClusterSpec

    overrides = dict(scenario.cluster)
    if scenario.downtime:
        overrides["downtime"] = list(scenario.downtime)
    try:
        return [ClusterSpec.from_conf(**overrides)]
    except TypeError as exc:
        raise ScenarioError(scenario.source, "cluster", str(exc)) from None


def _replay(
    scenario: Scenario,
    resolved: dict[str, Callable[..., Any]],
    seed: int,
    end: dt.datetime,
    until: dt.datetime | None,
    progress: Progress | None,
    logs: list[str],
) -> RunResult:
    import responses
    from django.core.management import call_command
    from django_q.conf import Conf

    from harness.scenario.arrivals import arrivals, fields_for, render
    from harness.sim.cluster import Durations
    from harness.sim.patches import emit_post_migrate
    from harness.sim.simulation import Simulation

    clusters = _cluster_specs(scenario)
    durations = Durations(scenario.durations_default, dict(scenario.durations), seed=seed)
    sim = Simulation(
        scenario.start,
        clusters,
        seed=seed,
        durations=durations,
        strict=False,
        watchdog_seconds=scenario.watchdog,
        lock_helpers=scenario.lock_helpers,
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps, sim:
        ledger, built, rules = mount_fakes(scenario, sim, rsps, seed)
        # The project is deployed at the virtual start: tasks a data migration left queued are
        # followed and run, and post_migrate handlers create their rows now (harness.infra.freshdb).
        sim.adopt_queued(during="migrate")
        try:
            emit_post_migrate()
        except Exception as exc:
            raise HarnessError(
                f"{scenario.source}: a post_migrate handler failed at the virtual start: "
                f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            ) from None
        for i, step in enumerate(scenario.setup):
            try:
                if step.command:
                    out = io.StringIO()
                    call_command(step.command, *step.args, stdout=out, stderr=out)
                else:
                    fn = resolved[step.call]  # type: ignore[index]
                    kwargs = dict(step.kwargs)
                    if _wants_fakes(fn):
                        kwargs["fakes"] = {kind: fake for kind, (fake, _) in built.items()}
                    fn(*step.args, **kwargs)
            except Exception as exc:
                raise HarnessError(
                    f"{scenario.source}: setup[{i}] ({step.describe()}) failed: "
                    f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                ) from None
        schedules = _schedules()
        for spec in scenario.loads:
            fn = resolved[spec.call]
            for arrival in arrivals(spec, scenario, seed):
                fields = fields_for(spec, arrival, scenario, seed)
                sim.at(
                    arrival.at,
                    _arrive(sim, spec.name, fn),
                    render(spec.args, fields),
                    render(spec.kwargs, fields),
                )
        t = scenario.start
        while t < end:
            t = min(end, t + STEP)
            sim.run_until(t)
            if progress is not None:
                progress(sim.now() if sim.stopped else t, scenario.start, end)
            if sim.stopped is not None:  # a call never returned: judge the run up to here
                end = sim.now()
                break
        ctx = RunContext(
            scenario=scenario,
            timeline=sim.timeline,
            clusters=sim.clusters and [c.spec for c in sim.clusters],
            start=scenario.start,
            end=end,
            ledger=ledger,
            broker=sim.broker_kind,
            schedules=schedules,
            queued=_queued(),
            task_rows=_task_rows(),
            logs=logs,
            secrets=_secrets(scenario, built),
            findings=list(sim.findings),
            default_cluster=Conf.PREFIX,
            fault_rules=rules,
        )
        verdicts = run_all(ctx, scenario.checks)
        return RunResult(
            scenario=scenario,
            seed=seed,
            end=end,
            timeline=sim.timeline,
            stats=sim.stats(),
            verdicts=verdicts,
            clusters=ctx.clusters,
            ledger=ledger,
            command=reproduce_command(scenario, seed, until, settings=_current_settings()),
            schedules=schedules,
            stopped=sim.stopped,
        )


def _current_settings() -> str | None:
    from django.conf import settings

    return getattr(settings, "SETTINGS_MODULE", None)


def _wants_fakes(fn: Callable[..., Any]) -> bool:
    """A setup callable with a ``fakes`` parameter gets the mounted fakes (kind → instance)."""
    import inspect

    try:
        return "fakes" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _arrive(sim: Any, name: str, fn: Callable[..., Any]) -> Callable[[list, dict], None]:
    """A load arrival; an exception in the load function becomes a finding, not a crash."""

    def call(args: list[Any], kwargs: dict[str, Any]) -> None:
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            sim.add_finding("load error", load=name, error=f"{type(exc).__name__}: {exc}"[:300])

    return call
