"""TOML document → :class:`~harness.scenario.model.Scenario`, validated (no Django needed).

Shape, keys, types and ranges, durations, times and cron strings are checked here; dotted
paths and management commands by :mod:`harness.scenario.resolve` once Django is set up.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.distributions import Distribution
from harness.distributions import read_file as read_distributions
from harness.durations import parse_duration
from harness.scenario.clusters import parse_cluster, parse_named_clusters, parse_settings
from harness.scenario.limits import parse_run_limits
from harness.scenario.model import (
    FAKE_KINDS,
    SHAPES,
    FakeSpec,
    LoadSpec,
    Scenario,
    ScenarioError,
    SetupStep,
)
from harness.scenario.reader import (
    _COMMAND,
    _DOTTED,
    _MODULE,
    APP_PATH,
    OptionsReader,
    _instant,
    _offset_or_instant,
    _show,
    _valid_cron,
)


def parse(data: Mapping[str, Any], source: str = "<scenario>", name: str | None = None) -> Scenario:
    """Validate a decoded TOML document into a :class:`Scenario` (no Django needed)."""
    r = OptionsReader(source, data, "")
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
    _parse_project(r, scenario)
    parse_run_limits(r, scenario)
    scenario.gate_until = r.duration("gate_until")
    if scenario.gate_until is not None and scenario.gate_until > duration:
        r.fail("is beyond the scenario's duration", "gate_until")
    scenario.setup = _parse_setup(r, r.get("setup", list, default=[]))
    parse_cluster(r.table("cluster"), scenario)
    parse_named_clusters(r, r.get("clusters", list, default=[]), scenario)
    parse_settings(r.table("override_settings"), scenario)
    _parse_durations(r.table("durations"), scenario)
    scenario.loads = _parse_loads(r, r.get("load", list, default=[]), time_zone)
    scenario.fakes = _parse_fakes(r.table("fakes"), scenario)
    _parse_expect(r.table("expect"), scenario)
    r.done()
    return scenario


def _parse_project(r: OptionsReader, scenario: Scenario) -> None:
    """Where the project is (``project_root``, ``paths``) and which database it runs on."""
    source = scenario.source
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
    baseline = r.get("baseline", str, default=None)
    if baseline is not None:
        scenario.baseline = (base / baseline).resolve()
        if not scenario.baseline.is_file():
            r.fail(
                f"{scenario.baseline} is not a file (paths are relative to the scenario file)",
                "baseline",
            )


def _directory(r: OptionsReader, key: str, path: Path) -> Path:
    """A directory named relative to the scenario file; it must exist."""
    resolved = path.resolve()
    if not resolved.is_dir():
        r.fail(f"{resolved} is not a directory (paths are relative to the scenario file)", key)
    return resolved


def _parse_setup(r: OptionsReader, items: list[Any]) -> list[SetupStep]:
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
        t = OptionsReader(r.source, item, where)
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


def _parse_durations(t: OptionsReader, scenario: Scenario) -> None:
    default = t.duration("default", default=dt.timedelta())
    scenario.durations_default = default.total_seconds()
    measured = t.get("from", str, default=None)
    if measured is not None:
        scenario.durations_from = _measured_durations(t, scenario.source, measured)
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
            scenario.durations_per_func[func] = (lo.total_seconds(), hi.total_seconds())
        else:
            value = parse_duration(raw)
            if value is None:
                per.fail(f"{_show(raw)} is not a duration like '2s' or '1m30s'", func)
            scenario.durations_per_func[func] = value.total_seconds()
    t.done()


def _measured_durations(t: OptionsReader, source: str, name: str) -> dict[str, Distribution]:
    """``[durations] from``: a file ``harness durations`` wrote, relative to the scenario."""
    base = Path(source).parent if source and not source.startswith("<") else Path.cwd()
    path = base / name
    try:
        return read_distributions(path.read_text(encoding="utf-8"))
    except OSError as exc:
        reason = f"cannot read {path}: {exc.strerror or exc}"
    except UnicodeDecodeError:
        reason = f"{path} is not UTF-8 text"
    except ValueError as exc:
        reason = f"{path}: {exc}"
    raise ScenarioError(t.source, t.path("from"), reason)


def _parse_loads(r: OptionsReader, items: list[Any], zone: str | None) -> list[LoadSpec]:
    loads = []
    for i, item in enumerate(items):
        t = OptionsReader(r.source, item, f"load[{i}]")
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
        _parse_arrival_kind(t, spec, zone)
        spec.count = t.get("count", int, default=1)
        if spec.count < 1:
            t.fail("must be at least 1", "count")
        spec.spread = t.duration("spread", default=dt.timedelta())
        t.renamed("begin", "start")  # the old spelling (harness.spellings)
        spec.start = t.duration("start", default=dt.timedelta())
        spec.end = t.duration("end")
        spec.allow_failures = t.get("allow_failures", int, default=0)
        if spec.allow_failures < 0:
            t.fail("must not be negative", "allow_failures")
        t.done()
        loads.append(spec)
    names = [spec.name for spec in loads]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ScenarioError(r.source, f"load[{i}].name", f"duplicate load name {name!r}")
    return loads


def _parse_arrival_kind(t: OptionsReader, spec: LoadSpec, zone: str | None) -> None:
    """Exactly one of ``per_day`` (with a ``shape``), ``every``, ``at`` or ``cron``."""
    kinds = [k for k in ("per_day", "every", "at", "cron") if t.has(k)]
    if len(kinds) != 1:
        t.fail("give exactly one of per_day, every, at, cron")
    if t.has("per_day"):
        spec.per_day = t.get("per_day", int)
        if spec.per_day < 0:
            t.fail("must not be negative", "per_day")
        spec.shape = _shape(t, t.get("shape", (str, list), default="flat"))
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


def _shape(t: OptionsReader, shape: Any) -> tuple[float, ...]:
    """A named daily shape, or 24 non-negative hourly weights (at least one positive)."""
    import math

    if isinstance(shape, str):
        if shape not in SHAPES:
            t.fail(f"unknown shape {shape!r}; use {', '.join(SHAPES)} or 24 weights", "shape")
        return SHAPES[shape]
    if len(shape) != 24 or not all(
        isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w) and w >= 0
        for w in shape
    ):
        t.fail("a shape is 24 non-negative hourly weights", "shape")
    if not any(shape):
        t.fail("a shape needs at least one positive weight", "shape")
    return tuple(float(w) for w in shape)


TEMPLATE_FIELDS = ("n", "i", "day", "seed", "name")


def _check_templates(t: OptionsReader, key: str, value: Any) -> None:
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


def _parse_fakes(t: OptionsReader, scenario: Scenario) -> list[FakeSpec]:
    from harness.fakes.faults import read_rules

    specs = []
    custom = _custom_fakes(t)
    for kind in list(t.data):
        f = t.table(kind)
        spec = FakeSpec(name=kind, url=f.get("url", str, required=True), app=custom.get(kind))
        f.seen.add("app")
        if "{settings." not in spec.url:  # a template is checked once settings fill it in
            _check_url(f, spec.url)
        spec.options = f.get("options", dict, default={})
        if spec.app is None:  # a project's own fake is checked once its class imports
            _check_fake_options(f, kind, spec.options)
        spec.webhook_path = f.get("webhook_path", str)
        if spec.webhook_path is not None and kind != "payments":
            f.fail("only the payments fake sends webhooks", "webhook_path")
        rules = f.get("faults", list, default=[])
        for j, rule in enumerate(rules):
            if isinstance(rule, dict):
                if rule.get("fake", kind) != kind:
                    f.fail(f"a rule of the {kind} fake names fake {rule['fake']!r}", f"faults[{j}]")
                rule.setdefault("fake", kind)
        read_rules(f, rules, "faults", dict.fromkeys(custom))  # the same reader, the same errors
        for rule in rules:  # kept as read: an outage's old `kind` under its new name
            if rule.get("type") == "outage" and "kind" in rule:
                rule["mode"] = rule.pop("kind")
        spec.faults = rules
        f.done()
        specs.append(spec)
    t.done()
    return specs


def _custom_fakes(t: OptionsReader) -> dict[str, str]:
    """``[fakes.NAME] app = "dotted.path:Class"``: a project's own fake, by name (its class
    imports once Django is set up: :mod:`harness.scenario.resolve`)."""
    apps = {}
    for kind, table in t.data.items():
        app = table.get("app") if isinstance(table, dict) else None
        f = t.table(kind)
        if app is None:
            if kind not in FAKE_KINDS:
                f.fail(
                    f"unknown fake; choose from {', '.join(FAKE_KINDS)}, or name your own "
                    'class with app = "dotted.path:Class"'
                )
            continue
        if not isinstance(app, str) or not APP_PATH.match(app):
            f.fail(f"{_show(app)} is not a dotted path like 'myproject.fakes:FakeMailer'", "app")
        apps[kind] = app
    return apps


def _check_url(f: OptionsReader, url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        f.fail(f"{url!r} is not an http(s) URL with a host", "url")


def _check_fake_options(f: OptionsReader, kind: str, options: dict[str, Any]) -> None:
    """The options are the fake's constructor keywords: unknown names are errors now."""
    from harness.fakes import FAKES
    from harness.fakes.base import option_names

    accepted = option_names(FAKES[kind])
    for name in options:
        if name not in accepted:
            f.fail(
                f"unknown option {name!r} of the {kind} fake; accepted: {', '.join(accepted)}",
                f"options.{name}",
            )


def _parse_expect(t: OptionsReader, scenario: Scenario) -> None:
    """``[expect]``: kept as written (what a run records); read once here to refuse mistakes."""
    from harness.checkers.expectations import parse as parse_expect

    scenario.expect = dict(t.data)
    t.seen.update(t.data)
    checks = parse_expect(t.data, t.source).checks
    if checks is not None:
        scenario.checks = checks


def parse_until(
    text: str | dt.datetime | None, scenario: Scenario, where: str = "until"
) -> dt.datetime | None:
    """``--until``/``until=``: an aware or local ISO time, an offset from the start ('2d'), or
    ``"gate"``: the golden's horizon, ``gate_until`` (or the whole run without one).

    A naive time is read in the scenario's zone; the result is always aware and after the
    start (the CLI and the pytest plugin share this one reading)."""
    from harness.durations import too_long
    from harness.scenario.reader import EARLIEST, LATEST

    if text is None:
        return None
    if isinstance(text, dt.datetime):
        when = text
    elif not isinstance(text, str):
        raise ScenarioError(scenario.source, where, f"expected a time or an offset, got {text!r}")
    elif text.strip() == "gate":  # as `harness gate` replays: no gate_until is the whole run
        return scenario.start + scenario.gate_until if scenario.gate_until else None
    else:
        offset = parse_duration(text)
        if offset is not None and not text.strip().replace(".", "").isdigit():
            return scenario.start + offset
        if too_long(text):
            raise ScenarioError(scenario.source, where, f"{text!r} is longer than 100 years")
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ScenarioError(
                scenario.source,
                where,
                f"{text!r} is neither an ISO time nor an offset like '2d' or '6h'",
            ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=scenario.zone)
    if not EARLIEST.year < when.year < LATEST.year:  # before astimezone, which can overflow
        raise ScenarioError(
            scenario.source, where, f"{text} is outside {EARLIEST.year + 1}–{LATEST.year - 1}"
        )
    if when <= scenario.start:
        raise ScenarioError(
            scenario.source, where, f"{text} is not after the scenario start {scenario.start}"
        )
    return when
