"""The scenarios ``harness explore`` reads, runs and writes (TOML, one file = one run).

Why here and not in a scenario runner: ``harness explore`` needs to run one scenario under many
fault plans and to write the minimal failing one back as a file. Until the project's scenario
runner exists this module is that runner, kept small: a scenario is a start instant, a seed,
clusters (:class:`~harness.driver.ClusterSpec` fields), fakes mounted in-process at base URLs,
task arrivals, a fault plan in the :mod:`fakes.faults` format and the checks to apply::

    name = "buggy-renewal"
    start = "2026-03-01T08:00:00+00:00"
    seed = 7
    run_for = "3h"
    [[clusters]]                # ClusterSpec fields; default: the project's Q_CLUSTER
    retry = 300
    [[fakes]]                   # kind = virtualmin | payments | registrar
    kind = "registrar"
    base_url = "https://registrar.fixture.test/v5"
    domains = { "example.ro" = "2026-03-20T00:00:00+00:00" }   # registrar only
    [[tasks]]                   # async_task(func, *args, **kwargs) at start + at
    at = "0s"
    func = "myapp.tasks.renew_domain"
    args = ["example.ro", 1]
    [checks]
    duplicate_effects = true    # at most one effect per (fake, effect, business key)
    findings = true             # no simulation findings (errors django-q2 only logs)
    [faults]                    # a fault plan, relative times counted from start
    rules = [{ type = "lost_response", fake = "registrar", operation = "domain.renew" }]
    [explore]                   # the fault space `harness explore` searches
    fakes = ["registrar"]
    operations = ["domain.renew", "domain.info"]
    max_rules = 4
"""

from __future__ import annotations

import logging
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import tomli_w

from fakes.faults import FaultPlan, FaultPlanError, parse_duration
from fakes.operations import OPERATIONS
from harness.errors import HarnessError

_TOP_KEYS = {
    "name", "description", "start", "seed", "run_for", "clusters", "fakes", "tasks", "checks",
    "faults", "explore",
}  # fmt: skip
_CHECKS = ("duplicate_effects", "findings")


class ScenarioError(HarnessError):
    """A scenario file is invalid; one line naming the key."""


@dataclass(frozen=True)
class Arrival:
    at: timedelta
    func: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FakeMount:
    kind: str
    base_url: str
    domains: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario; ``raw`` keeps the file's data so it can be written back."""

    name: str
    start: datetime
    seed: int
    run_for: timedelta
    clusters: tuple[dict[str, Any], ...]
    fakes: tuple[FakeMount, ...]
    tasks: tuple[Arrival, ...]
    checks: tuple[str, ...]
    faults: dict[str, Any]
    explore: dict[str, Any]
    raw: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ScenarioError(f"scenario {p}: cannot read: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"scenario {p}: syntax error: {exc}") from None
        try:
            return cls.from_dict(data)
        except ScenarioError as exc:
            raise ScenarioError(f"scenario {p}: {exc}") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise ScenarioError(f"unknown key {unknown[0]!r}")
        start = _time(data.get("start"), "start")
        faults = dict(data.get("faults") or {"rules": []})
        try:
            FaultPlan.from_dict(faults)
        except FaultPlanError as exc:
            raise ScenarioError(f"faults: {exc}") from None
        checks = data.get("checks", {"duplicate_effects": True, "findings": True})
        bad = sorted(set(checks) - set(_CHECKS))
        if bad:
            raise ScenarioError(f"checks: unknown check {bad[0]!r} (known: {', '.join(_CHECKS)})")
        clusters = _list(data, "clusters")
        return cls(
            name=_str(data.get("name"), "name"),
            start=start,
            seed=_int(data.get("seed", 0), "seed"),
            run_for=_duration(data.get("run_for", "1h"), "run_for"),
            clusters=tuple(_cluster(c, f"clusters[{i}]") for i, c in enumerate(clusters)),
            fakes=tuple(_fake(f, f"fakes[{i}]") for i, f in enumerate(_list(data, "fakes"))),
            tasks=tuple(_arrival(t, f"tasks[{i}]") for i, t in enumerate(_list(data, "tasks"))),
            checks=tuple(c for c in _CHECKS if checks.get(c)),
            faults=faults,
            explore=_explore(data.get("explore") or {}),
            raw=dict(data),
        )  # fmt: skip

    def with_faults(self, plan: dict[str, Any], *, name: str | None = None) -> Scenario:
        raw = {**self.raw, "faults": plan, "name": name or self.name}
        return replace(self, faults=plan, name=raw["name"], raw=raw)

    def replacing(self, swaps: Mapping[str, str]) -> Scenario:
        """The same scenario with task functions renamed (``old.module`` → ``new.module``)."""

        def swap(func: str) -> str:
            for old, new in swaps.items():
                if func == old or func.startswith(old + "."):
                    return new + func[len(old) :]
            return func

        return replace(self, tasks=tuple(replace(t, func=swap(t.func)) for t in self.tasks))

    def dumps(self, header: str = "") -> str:
        """TOML text of this scenario; loading it gives an equal scenario."""
        comment = "".join(f"# {line}\n" for line in header.splitlines())
        return comment + tomli_w.dumps(_plain(self.raw))

    def write(self, path: str | Path, header: str = "") -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.dumps(header), encoding="utf-8")
        return p


# -- validation helpers -----------------------------------------------------------------------


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{where}: expected an integer, got {value!r}")
    return value


def _time(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(_str(value, where))
        except ValueError:
            raise ScenarioError(f"{where}: {value!r} is not an ISO-8601 time") from None
    if parsed.utcoffset() is None:
        raise ScenarioError(f"{where}: {value!r} has no UTC offset")
    return parsed


def _duration(value: Any, where: str) -> timedelta:
    parsed = parse_duration(value) if isinstance(value, str) else None
    if parsed is None:
        raise ScenarioError(f"{where}: {value!r} is not a duration like '90s', '2h30m', '1d'")
    return parsed


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ScenarioError(f"{key}: expected a list of tables")
    return value


def _cluster(raw: Any, where: str) -> dict[str, Any]:
    from harness.driver import ClusterSpec

    known = {f.name for f in fields(ClusterSpec)} - {"downtime"}
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: expected a table")
    bad = sorted(set(raw) - known)
    if bad:
        raise ScenarioError(f"{where}: unknown key {bad[0]!r}")
    return dict(raw)


def _fake(raw: Any, where: str) -> FakeMount:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: expected a table")
    bad = sorted(set(raw) - {"kind", "base_url", "domains"})
    if bad:
        raise ScenarioError(f"{where}: unknown key {bad[0]!r}")
    kind = raw.get("kind")
    if kind not in OPERATIONS:
        raise ScenarioError(f"{where}.kind: {kind!r} is not one of {', '.join(OPERATIONS)}")
    domains = raw.get("domains", {})
    if domains and kind != "registrar":
        raise ScenarioError(f"{where}.domains: only a registrar holds domains")
    return FakeMount(
        kind,
        _str(raw.get("base_url"), f"{where}.base_url"),
        {d: _time(t, f"{where}.domains.{d}") for d, t in domains.items()},
    )


def _arrival(raw: Any, where: str) -> Arrival:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: expected a table")
    bad = sorted(set(raw) - {"at", "func", "args", "kwargs"})
    if bad:
        raise ScenarioError(f"{where}: unknown key {bad[0]!r}")
    func = _str(raw.get("func"), f"{where}.func")
    if "." not in func:
        raise ScenarioError(f"{where}.func: {func!r} is not a dotted path")
    return Arrival(
        _duration(raw.get("at", "0s"), f"{where}.at"),
        func,
        tuple(raw.get("args", ())),
        dict(raw.get("kwargs", {})),
    )


def _explore(raw: Mapping[str, Any]) -> dict[str, Any]:
    bad = sorted(set(raw) - {"fakes", "operations", "types", "max_rules"})
    if bad:
        raise ScenarioError(f"explore: unknown key {bad[0]!r}")
    fakes = tuple(raw.get("fakes", ("registrar",)))
    for fake in fakes:
        if fake not in OPERATIONS:
            raise ScenarioError(f"explore.fakes: {fake!r} is not one of {', '.join(OPERATIONS)}")
    operations: dict[str, tuple[str, ...]] = {}
    for op in raw.get("operations", ()):
        owner = [f for f in fakes if op in OPERATIONS[f]]
        if not owner:
            raise ScenarioError(f"explore.operations: {op!r} is not an operation of {fakes}")
        operations.setdefault(owner[0], ())
        operations[owner[0]] += (op,)
    options: dict[str, Any] = {"fakes": fakes, "operations": operations}
    if "types" in raw:
        options["types"] = tuple(raw["types"])
    options["max_rules"] = _int(raw.get("max_rules", 4), "explore.max_rules")
    return options


def _plain(value: Any) -> Any:
    """TOML-writable data: tuples become lists, datetimes stay (TOML has them)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# -- running ----------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What one run of a scenario showed; ``failures`` are one line each, with evidence."""

    failures: list[str]
    faults_fired: int
    timeline_lines: list[str]
    ledger_lines: list[str]

    @property
    def ok(self) -> bool:
        return not self.failures


def _make_fake(mount: FakeMount, ledger: Any, now: Any, injector: Any, seed: int) -> Any:
    from fakes import FakePayments, FakeRegistrar, FakeVirtualmin

    if mount.kind == "virtualmin":
        return FakeVirtualmin(ledger, now, injector)
    if mount.kind == "payments":
        return FakePayments(ledger, now, injector, seed=seed, deliver_webhooks="manual")
    fake = FakeRegistrar(ledger, now, injector)
    for fqdn, expiry in mount.domains.items():
        fake.add_domain(fqdn, expiry)
    return fake


def duplicate_effects(ledger: Any) -> list[str]:
    """Effects recorded more than once for one (fake, effect, business key)."""
    counts = Counter((e.fake, e.effect, e.business_key) for e in ledger.effects())
    out = []
    for (fake, effect, key), n in sorted(counts.items(), key=str):
        if n > 1:
            seqs = [
                f"#{e.seq} task {e.task_id} attempt {e.attempt}"
                for e in ledger.effects(kind=effect, fake=fake)
                if e.business_key == key
            ]
            out.append(f"duplicate effect: {fake} {effect} x{n} for {key!r} ({'; '.join(seqs)})")
    return out


def run(scenario: Scenario) -> RunResult:
    """Run ``scenario`` once on the current database and roll every row back afterwards.

    Django must be configured and the database migrated (``harness explore`` does both).
    django-q2's INFO lines are muted during the run (its errors still reach the findings).
    """
    qlog = logging.getLogger("django-q")
    level = qlog.level
    qlog.setLevel(logging.WARNING)
    try:
        return _run(scenario)
    finally:
        qlog.setLevel(level)


def _run(scenario: Scenario) -> RunResult:
    import responses
    from django.db import transaction
    from django.utils import timezone
    from django_q.tasks import async_task

    from fakes import FaultInjector, Ledger, mount_responses
    from harness.driver import ClusterSpec, Simulation

    specs = [ClusterSpec.from_conf(**c) for c in scenario.clusters] or None
    failures: list[str] = []
    with transaction.atomic():
        sim = Simulation(scenario.start, specs, seed=scenario.seed, strict=False)
        with sim, responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            ledger = Ledger(timezone.now)
            injector = FaultInjector(
                FaultPlan.from_dict(scenario.faults), seed=scenario.seed, origin=scenario.start
            )
            for mount in scenario.fakes:
                fake = _make_fake(mount, ledger, timezone.now, injector, scenario.seed)
                mount_responses(rsps, mount.base_url, fake)
            sim.observe_ledger(ledger)
            for task in scenario.tasks:
                sim.at(scenario.start + task.at, async_task, task.func, *task.args, **task.kwargs)
            sim.advance(scenario.run_for)
            if "duplicate_effects" in scenario.checks:
                failures += duplicate_effects(ledger)
            if "findings" in scenario.checks:
                failures += [f"finding: {f['finding']} at {f['at']}" for f in sim.findings]
            fired = sum(1 for d in injector.decisions if d.fault and d.fault.kind != "latency")
            result = RunResult(
                failures, fired, list(sim.timeline.lines()),
                ledger.to_json_lines().splitlines(),
            )  # fmt: skip
        transaction.set_rollback(True)
    return result
