"""Scenarios: a few lines of TOML (or the same dataclasses in Python) that describe a run.

A scenario names the Django settings module, the start instant and time zone, the duration and
seed, the setup to run under the virtual clock (management commands or dotted-path callables),
cluster-config overrides (on top of the project's ``Q_CLUSTER``), load generators, the HTTP
fakes to mount with their fault plans, per-task durations, and what the checkers expect.

Validation happens in two stages, both before anything runs or is written:

* :func:`parse` checks shape, keys, durations, times and cron strings (no Django needed);
* :func:`resolve_paths` imports every dotted path and checks every command name (needs Django).

Every problem is one :class:`ScenarioError` line: ``<file>: <key path>: <reason>``.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.durations import EXAMPLES, parse_duration
from harness.errors import HarnessError

FAKE_KINDS = ("virtualmin", "payments", "registrar")
SHAPES: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    # Orders arrive mostly in office hours, a few at night.
    "business-hours": (
        (0.2,) * 7 + (0.6, 1.0, 1.6, 1.8, 1.8, 1.4, 1.6, 1.8, 1.6, 1.4, 1.0, 0.8) + (0.5,) * 5
    ),
}


class ScenarioError(HarnessError):
    """A scenario is malformed: one line naming the file, the key path and the reason."""

    def __init__(self, source: str, where: str, reason: str) -> None:
        self.source, self.where, self.reason = source, where, reason
        super().__init__(f"{source}: {where}: {reason}" if where else f"{source}: {reason}")


# -- the model ------------------------------------------------------------------------------------
@dataclass
class SetupStep:
    """A management command (``command`` + ``args``) or a dotted-path callable (``call``)."""

    command: str | None = None
    args: list[Any] = field(default_factory=list)
    call: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.command:
            return " ".join([self.command, *map(str, self.args)])
        return f"{self.call}()"


@dataclass
class LoadSpec:
    """Arrivals of ``call(*args, **kwargs)`` at seeded times (strings in args are templates).

    Exactly one of: ``per_day`` (with a daily ``shape``), ``every``, ``at`` or ``cron``;
    ``count`` calls per arrival point (spread over ``spread``) for ``every``/``at``/``cron``.
    """

    name: str
    call: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    per_day: int | None = None
    shape: tuple[float, ...] = SHAPES["flat"]
    every: dt.timedelta | None = None
    at: list[dt.timedelta | dt.datetime] = field(default_factory=list)
    cron: str | None = None
    count: int = 1
    spread: dt.timedelta = dt.timedelta()
    begin: dt.timedelta = dt.timedelta()  # offset from the scenario start
    end: dt.timedelta | None = None  # offset from the scenario start


@dataclass
class FakeSpec:
    """A fake mounted in-process at ``url`` (``{settings.NAME}`` is replaced by the setting)."""

    kind: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    webhook_path: str | None = None  # payments: deliver webhooks to this path (Django client)


@dataclass
class Scenario:
    name: str
    start: dt.datetime
    duration: dt.timedelta
    settings: str | None = None  # None: --settings, else DJANGO_SETTINGS_MODULE
    description: str = ""
    time_zone: str = "UTC"
    seed: int = 0
    setup: list[SetupStep] = field(default_factory=list)
    cluster: dict[str, Any] = field(default_factory=dict)  # ClusterSpec overrides
    downtime: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    durations_default: float = 0.0
    durations: dict[str, float | tuple[float, float]] = field(default_factory=dict)
    loads: list[LoadSpec] = field(default_factory=list)
    fakes: list[FakeSpec] = field(default_factory=list)
    expect: dict[str, dict[str, Any]] = field(default_factory=dict)  # checker → options
    checks: list[str] | None = None  # None: every checker
    gate_until: dt.timedelta | None = None  # the golden covers start .. start + gate_until
    source: str = "<scenario>"
    project_root: Path | None = None  # put first on sys.path (None: the current directory)
    paths: list[Path] = field(default_factory=list)  # more sys.path entries, after the root
    database: str = "project"  # "project": its own DATABASES; "harness": the harness's server
    watchdog: float = 10.0  # wall-clock seconds a task or scheduler pass may take
    lock_helpers: list[str] = field(default_factory=list)  # [locks] helpers (harness.sim.locks)

    @property
    def end(self) -> dt.datetime:
        return self.start + self.duration

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


# -- small parsers --------------------------------------------------------------------------------
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")  # a module may be top-level
_COMMAND = re.compile(r"^[A-Za-z_][\w-]*$")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Reader:
    """Reads one table with a key path for messages, and refuses keys nobody read."""

    def __init__(self, source: str, data: Any, where: str) -> None:
        self.source, self.where = source, where
        if not isinstance(data, Mapping):
            self.fail(f"expected a table, got {_show(data)}")
        self.data = dict(data)
        self.seen: set[str] = set()

    def path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.where}[{key}]"
        return f"{self.where}.{key}" if self.where else key

    def fail(self, reason: str, key: str | int | None = None) -> None:
        raise ScenarioError(self.source, self.path(key) if key is not None else self.where, reason)

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, kind: Any, default: Any = None, required: bool = False) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                self.fail("is required", key)
            return default
        value = self.data[key]
        if kind is not None:
            kinds = kind if isinstance(kind, tuple) else (kind,)
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                names = " or ".join(k.__name__ for k in kinds)
                self.fail(f"expected {names}, got {_show(value)}", key)
        return value

    def duration(self, key: str, default: Any = None, required: bool = False) -> Any:
        raw = self.get(key, None, default=None, required=required)
        if raw is None:
            return default
        value = parse_duration(raw)
        if value is None:
            self.fail(f"{_show(raw)} is not a duration like {EXAMPLES}", key)
        return value

    def table(self, key: str) -> _Reader:
        self.seen.add(key)
        return _Reader(self.source, self.data.get(key, {}), self.path(key))

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            self.fail("unknown key", unknown[0])


def _instant(r: _Reader, key: str, raw: Any, zone: str | None) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        value = raw
    elif isinstance(raw, str):
        try:
            value = dt.datetime.fromisoformat(raw)
        except ValueError:
            r.fail(f"{_show(raw)} is not an ISO-8601 date-time", key)
    elif isinstance(raw, dt.date):
        value = dt.datetime.combine(raw, dt.time())
    else:
        r.fail(f"expected a date-time, got {_show(raw)}", key)
    if value.tzinfo is None:
        if zone is None:
            r.fail(f"{raw} has no UTC offset and the scenario names no time_zone", key)
        value = value.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    return value


def _offset_or_instant(r: _Reader, key: str, raw: Any, zone: str | None) -> Any:
    rel = parse_duration(raw) if isinstance(raw, str) else None
    if rel is not None:
        return rel
    return _instant(r, key, raw, zone)


def _valid_cron(text: str) -> bool:
    from croniter import croniter

    try:
        return bool(croniter.is_valid(text))
    except Exception:
        return False


# -- parsing --------------------------------------------------------------------------------------
def parse(data: Mapping[str, Any], source: str = "<scenario>", name: str | None = None) -> Scenario:
    """Validate a decoded TOML document into a :class:`Scenario` (no Django needed)."""
    r = _Reader(source, data, "")
    time_zone = r.get("time_zone", str, default=None)
    if time_zone is not None:
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            r.fail(f"unknown time zone {time_zone!r}", "time_zone")
    start = _instant(r, "start", r.get("start", None, required=True), time_zone)
    duration = r.duration("duration", required=True)
    if duration <= dt.timedelta():
        r.fail("must be longer than zero", "duration")
    settings = r.get("settings", str, default=None)
    if settings is not None and not _MODULE.match(settings):
        r.fail(f"{settings!r} is not a module path like 'mysite.settings'", "settings")
    seed = r.get("seed", int, default=0)
    scenario = Scenario(
        name=r.get("name", str, default=name or Path(source).stem),
        description=r.get("description", str, default=""),
        settings=settings,
        start=start,
        time_zone=time_zone or "UTC",
        duration=duration,
        seed=seed,
        source=source,
    )
    base = Path(source).parent if source and not source.startswith("<") else Path.cwd()
    root = r.get("project_root", str, default=None)
    if root is not None:
        scenario.project_root = _directory(r, "project_root", base / root)
    for i, item in enumerate(r.get("paths", list, default=[])):
        if not isinstance(item, str):
            r.fail(f"expected a path, got {_show(item)}", f"paths[{i}]")
        scenario.paths.append(_directory(r, f"paths[{i}]", base / item))
    scenario.database = r.get("database", str, default="project")
    if scenario.database not in ("project", "harness"):
        r.fail(f"{scenario.database!r} is not 'project' or 'harness'", "database")
    watchdog = r.duration("watchdog", default=dt.timedelta(seconds=10))
    if not dt.timedelta(seconds=0.1) <= watchdog <= dt.timedelta(hours=1):
        r.fail("must be between 100ms and 1h (wall-clock time per call)", "watchdog")
    scenario.watchdog = watchdog.total_seconds()
    locks = r.table("locks")
    for i, path in enumerate(locks.get("helpers", list, default=[])):
        if not isinstance(path, str) or not _DOTTED.match(path):
            locks.fail(
                f"{_show(path)} is not a dotted path to a lock context manager", f"helpers[{i}]"
            )
        scenario.lock_helpers.append(path)
    locks.done()
    scenario.gate_until = r.duration("gate_until")
    if scenario.gate_until is not None and scenario.gate_until > duration:
        r.fail("is beyond the scenario's duration", "gate_until")
    scenario.setup = _parse_setup(r, r.get("setup", list, default=[]))
    _parse_cluster(r.table("cluster"), scenario)
    _parse_durations(r.table("durations"), scenario)
    scenario.loads = _parse_loads(r, r.get("load", list, default=[]), time_zone)
    scenario.fakes = _parse_fakes(r.table("fakes"), scenario)
    _parse_expect(r.table("expect"), scenario)
    r.done()
    return scenario


def _directory(r: _Reader, key: str, path: Path) -> Path:
    """A directory named relative to the scenario file; it must exist."""
    resolved = path.resolve()
    if not resolved.is_dir():
        r.fail(f"{resolved} is not a directory (paths are relative to the scenario file)", key)
    return resolved


def _parse_setup(r: _Reader, items: list[Any]) -> list[SetupStep]:
    steps = []
    for i, item in enumerate(items):
        where = f"setup[{i}]"
        if isinstance(item, str):
            item = item.split()
        if isinstance(item, list):
            if not item or not all(isinstance(x, str) for x in item):
                raise ScenarioError(r.source, where, "a command is a non-empty list of strings")
            if not _COMMAND.match(item[0]):
                raise ScenarioError(r.source, where, f"{item[0]!r} is not a command name")
            steps.append(SetupStep(command=item[0], args=list(item[1:])))
            continue
        t = _Reader(r.source, item, where)
        call = t.get("call", str, required=True)
        if not _DOTTED.match(call):
            t.fail(f"{call!r} is not a dotted path", "call")
        steps.append(
            SetupStep(
                call=call,
                args=t.get("args", list, default=[]),
                kwargs=t.get("kwargs", dict, default={}),
            )
        )
        t.done()
    return steps


_CLUSTER_KEYS: dict[str, Any] = {
    "name": str,
    "workers": int,
    "queue_limit": int,
    "bulk": int,
    "retry": int,
    "timeout": int,
    "max_attempts": int,
    "ack_failures": bool,
    "save_limit": int,
    "catch_up": bool,
    "scheduler": bool,
    "phase": (int, float),
}


def _parse_cluster(t: _Reader, scenario: Scenario) -> None:
    for key, kind in _CLUSTER_KEYS.items():
        if t.has(key):
            value = t.get(key, kind)
            if key in ("workers", "bulk", "retry") and value < 1:
                t.fail(f"must be at least 1, got {value}", key)
            if key in ("queue_limit", "max_attempts", "save_limit") and value < 0:
                t.fail(f"must not be negative, got {value}", key)
            scenario.cluster[key] = value
    for i, item in enumerate(t.get("downtime", list, default=[])):
        d = _Reader(t.source, item, t.path("downtime") + f"[{i}]")
        begin = _offset_or_instant(d, "start", d.get("start", None, required=True), None)
        end = _offset_or_instant(d, "end", d.get("end", None, required=True), None)
        d.done()
        a = scenario.start + begin if isinstance(begin, dt.timedelta) else begin
        b = scenario.start + end if isinstance(end, dt.timedelta) else end
        if b <= a:
            d.fail("end must be after start", "end")
        scenario.downtime.append((a, b))
    t.done()


def _parse_durations(t: _Reader, scenario: Scenario) -> None:
    default = t.duration("default", default=dt.timedelta())
    scenario.durations_default = default.total_seconds()
    per = t.table("per_func")
    for func, raw in per.data.items():
        per.seen.add(func)
        if not _DOTTED.match(func):
            per.fail(f"{func!r} is not a dotted path", func)
        if isinstance(raw, list):
            if len(raw) != 2:
                per.fail("a range is [low, high]", func)
            lo, hi = (parse_duration(x) for x in raw)
            if lo is None or hi is None:
                per.fail(f"{_show(raw)} is not a pair of durations", func)
            if hi < lo:
                per.fail("high is below low", func)
            scenario.durations[func] = (lo.total_seconds(), hi.total_seconds())
        else:
            value = parse_duration(raw)
            if value is None:
                per.fail(f"{_show(raw)} is not a duration like '2s' or '1m30s'", func)
            scenario.durations[func] = value.total_seconds()
    t.done()


def _parse_loads(r: _Reader, items: list[Any], zone: str | None) -> list[LoadSpec]:
    loads = []
    for i, item in enumerate(items):
        t = _Reader(r.source, item, f"load[{i}]")
        call = t.get("call", str, required=True)
        if not _DOTTED.match(call):
            t.fail(f"{call!r} is not a dotted path", "call")
        spec = LoadSpec(
            name=t.get("name", str, default=f"load{i}"),
            call=call,
            args=t.get("args", list, default=[]),
            kwargs=t.get("kwargs", dict, default={}),
        )
        _check_templates(t, "args", spec.args)
        _check_templates(t, "kwargs", spec.kwargs)
        kinds = [k for k in ("per_day", "every", "at", "cron") if t.has(k)]
        if len(kinds) != 1:
            t.fail("give exactly one of per_day, every, at, cron")
        if t.has("per_day"):
            spec.per_day = t.get("per_day", int)
            if spec.per_day < 0:
                t.fail("must not be negative", "per_day")
            shape = t.get("shape", (str, list), default="flat")
            if isinstance(shape, str):
                if shape not in SHAPES:
                    t.fail(
                        f"unknown shape {shape!r}; use {', '.join(SHAPES)} or 24 weights", "shape"
                    )
                spec.shape = SHAPES[shape]
            else:
                if len(shape) != 24 or not all(
                    isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 for w in shape
                ):
                    t.fail("a shape is 24 non-negative hourly weights", "shape")
                if not any(shape):
                    t.fail("a shape needs at least one positive weight", "shape")
                spec.shape = tuple(float(w) for w in shape)
        if t.has("every"):
            spec.every = t.duration("every")
            if spec.every <= dt.timedelta():
                t.fail("must be longer than zero", "every")
        if t.has("at"):
            raw = t.get("at", list)
            if not raw:
                t.fail("needs at least one time", "at")
            spec.at = [_offset_or_instant(t, f"at[{j}]", x, zone) for j, x in enumerate(raw)]
        if t.has("cron"):
            spec.cron = t.get("cron", str)
            if not _valid_cron(spec.cron):
                t.fail(f"{spec.cron!r} is not a valid cron expression", "cron")
        spec.count = t.get("count", int, default=1)
        if spec.count < 1:
            t.fail("must be at least 1", "count")
        spec.spread = t.duration("spread", default=dt.timedelta())
        spec.begin = t.duration("begin", default=dt.timedelta())
        spec.end = t.duration("end")
        t.done()
        loads.append(spec)
    names = [spec.name for spec in loads]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ScenarioError(r.source, f"load[{i}].name", f"duplicate load name {name!r}")
    return loads


TEMPLATE_FIELDS = ("n", "i", "day", "seed", "name")


def _check_templates(t: _Reader, key: str, value: Any) -> None:
    """Every ``{field}`` in load arguments must be one the generator fills in."""
    import string

    if isinstance(value, str):
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
        except ValueError as exc:
            t.fail(f"bad template {value!r}: {exc}", key)
        for f in fields:
            if f not in TEMPLATE_FIELDS:
                t.fail(f"unknown template field {{{f}}}; use {', '.join(TEMPLATE_FIELDS)}", key)
    elif isinstance(value, list):
        for item in value:
            _check_templates(t, key, item)
    elif isinstance(value, dict):
        for item in value.values():
            _check_templates(t, key, item)


def _parse_fakes(t: _Reader, scenario: Scenario) -> list[FakeSpec]:
    from harness.fakes.faults import FaultPlan, FaultPlanError

    specs = []
    for kind in list(t.data):
        if kind not in FAKE_KINDS:
            t.fail(f"unknown fake; choose from {', '.join(FAKE_KINDS)}", kind)
        f = t.table(kind)
        spec = FakeSpec(kind=kind, url=f.get("url", str, required=True))
        spec.options = f.get("options", dict, default={})
        spec.webhook_path = f.get("webhook_path", str)
        if spec.webhook_path is not None and kind != "payments":
            f.fail("only the payments fake sends webhooks", "webhook_path")
        rules = f.get("faults", list, default=[])
        for j, rule in enumerate(rules):
            if isinstance(rule, dict):
                if rule.get("fake", kind) != kind:
                    f.fail(f"a rule of the {kind} fake names fake {rule['fake']!r}", f"faults[{j}]")
                rule.setdefault("fake", kind)
        try:
            FaultPlan.from_dict({"rules": rules})
        except FaultPlanError as exc:
            reason = str(exc).removeprefix("fault plan: ").replace("rules[", "faults[", 1)
            raise ScenarioError(t.source, f.where, reason.strip()) from None
        spec.faults = rules
        f.done()
        specs.append(spec)
    t.done()
    return specs


def _parse_expect(t: _Reader, scenario: Scenario) -> None:
    from harness.checkers import CHECKERS

    checks = t.get("checks", list, default=None)
    if checks is not None:
        for i, name in enumerate(checks):
            if name not in CHECKERS:
                t.fail(f"unknown checker {name!r}; known: {', '.join(CHECKERS)}", f"checks[{i}]")
        scenario.checks = list(checks)
    for name in list(t.data):
        if name == "checks":
            continue
        if name not in CHECKERS:
            t.fail(f"unknown checker; known: {', '.join(CHECKERS)}", name)
        options = t.table(name)
        scenario.expect[name] = CHECKERS[name].options(options)
        options.done()
    t.done()


# -- loading and naming ---------------------------------------------------------------------------
SCENARIOS_ENV = "HARNESS_SCENARIOS"


def scenario_dirs() -> list[Path]:
    """Where scenario names are looked up: ``$HARNESS_SCENARIOS`` (os.pathsep-separated), else
    ``scenarios/`` in the current directory (the project root, as for ``manage.py``)."""
    import os

    configured = os.environ.get(SCENARIOS_ENV, "")
    if configured.strip():
        return [Path(p).expanduser() for p in configured.split(os.pathsep) if p.strip()]
    return [Path.cwd() / "scenarios"]


def shipped() -> dict[str, Path]:
    """The project's named scenarios (``*.toml`` in :func:`scenario_dirs`): name → file.

    The first directory that has a name wins."""
    found: dict[str, Path] = {}
    for folder in scenario_dirs():
        if folder.is_dir():
            for p in sorted(folder.glob("*.toml")):
                found.setdefault(p.stem, p)
    return dict(sorted(found.items()))


def golden_path(scenario_file: str | Path) -> Path:
    """Where a scenario's golden timeline lives: ``golden/<stem>.jsonl`` beside its file."""
    path = Path(scenario_file)
    return path.parent / "golden" / f"{path.stem}.jsonl"


def locate(ref: str | Path) -> Path:
    """A scenario name (looked up in :func:`scenario_dirs`) or a path → its file."""
    text_ref = str(ref)
    named = shipped()
    if text_ref in named and not text_ref.endswith(".toml"):
        return named[text_ref]
    path = Path(text_ref)
    if not path.exists():
        where = ", ".join(str(d) for d in scenario_dirs())
        names = ", ".join(named) or "none"
        raise ScenarioError(
            text_ref, "", f"no such file, and no scenario by that name in {where} (found: {names})"
        )
    return path


def load(ref: str | Path) -> Scenario:
    """A scenario by name (see :func:`scenario_dirs`) or a path to any TOML file."""
    path = locate(ref)
    named = str(ref) in shipped() and not str(ref).endswith(".toml")
    source = _display(path) if named else str(ref)  # messages name the file as the user did
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, "", f"cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "", f"TOML syntax error: {str(exc).splitlines()[0]}") from None
    return parse(data, source, name=path.stem)


def _display(path: Path) -> str:
    """A path as messages show it: relative to the current directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


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
