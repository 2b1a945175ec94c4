"""Fault plans (data) and the seeded injector that turns them into per-request faults.

A plan is a TOML/JSON document (or a dict) with a list of ``rules``; see ``docs/fakes.md``.
Everything is validated when the plan is loaded, so a typo fails at once with a one-line
:class:`FaultPlanError` instead of silently injecting nothing.

Determinism: whether a probabilistic rule fires is a pure function of
``(seed, rule index, fake, operation, business key, n)`` where ``n`` counts earlier calls with the
same ``(fake, operation, business key)``. Calls for *other* keys therefore never shift the dice of
a key. Only ``max_count`` (a budget shared by all keys) couples keys, by design.
"""

from __future__ import annotations

import hashlib
import json
import threading
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.fakes.operations import OPERATIONS
from harness.options import OptionsReader, show

RULE_TYPES = ("outage", "error", "rate_limit", "latency", "lost_response")
OUTAGE_KINDS = ("503", "connection_refused", "read_timeout")

_COMMON_KEYS = frozenset(
    {
        "type",
        "name",
        "fake",
        "operation",
        "business_key",
        "host",
        "start",
        "end",
        "max_count",
        "probability",
    }
)
_TYPE_KEYS: dict[str, frozenset[str]] = {
    "outage": frozenset({"mode"}),
    "error": frozenset({"status", "message", "envelope"}),
    "rate_limit": frozenset({"retry_after", "message"}),
    "latency": frozenset({"ms"}),
    "lost_response": frozenset(),
}
_TOP_KEYS = frozenset({"version", "description", "rules"})


class FaultPlanError(HarnessError, ValueError):
    """A fault plan is invalid; ``str(exc)`` is one line naming the offending key and value."""


@dataclass(frozen=True)
class TimeSpec:
    """A rule boundary: an absolute aware datetime, or a duration after the injector's origin."""

    absolute: datetime | None = None
    relative: timedelta | None = None

    def resolve(self, origin: datetime | None, where: str) -> datetime:
        if self.absolute is not None:
            return self.absolute
        if origin is None:
            raise FaultPlanError(f"fault plan: {where} is relative but the injector has no origin")
        assert self.relative is not None
        return origin + self.relative


@dataclass(frozen=True)
class Rule:
    """One validated rule of a plan; ``index`` is its position in ``rules``."""

    index: int
    type: str
    name: str | None = None
    fakes: frozenset[str] | None = None
    operations: frozenset[str] | None = None
    business_keys: frozenset[str] | None = None
    hosts: frozenset[str] | None = None
    start: TimeSpec | None = None
    end: TimeSpec | None = None
    max_count: int | None = None
    probability: float = 1.0
    mode: str | None = None  # an outage's: 503, connection_refused, read_timeout
    status: int | None = None
    message: str | None = None
    envelope: Any = None
    retry_after: int | None = None
    ms: int = 0


@dataclass(frozen=True)
class Fault:
    """What to do to one request.

    ``mode`` (the ledger's ``fault``) is an outage's mode (``503``, ``connection_refused``,
    ``read_timeout``) or the rule's type (``error``, ``rate_limit``, ``lost_response``), or
    ``latency`` (no failure, only ``latency_ms`` of virtual delay).
    ``429``, ``lost_response`` or ``latency`` (no failure, only ``latency_ms`` of virtual delay).
    """

    mode: str
    rule: int | None = None
    name: str | None = None
    status: int | None = None
    message: str | None = None
    envelope: Any = None
    retry_after: int | None = None
    latency_ms: int = 0

    @property
    def drops_response(self) -> bool:
        """The client gets no HTTP response at all (refused, timed out, or lost)."""
        return self.mode in ("connection_refused", "read_timeout", "lost_response")

    @property
    def applies_request(self) -> bool:
        """The fake still performs the request (and its effect)."""
        return self.mode in ("latency", "lost_response")


@dataclass(frozen=True)
class FaultPlan:
    """A validated list of rules; build it with :meth:`from_dict` or :meth:`load`."""

    rules: tuple[Rule, ...] = ()
    description: str | None = None

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        operations: Mapping[str, Iterable[str] | None] | None = None,
    ) -> FaultPlan:
        """Validate ``data``. ``operations`` adds fakes the plan may name beyond the built-in
        ones (a project's own fakes): name → its operation names, or None when they are not
        known yet (any operation is accepted, to be checked once the fake's class imports)."""
        r = OptionsReader(PLAN, data, "", _plan_error)
        version = r.get("version", None, default=1)
        if version != 1:
            r.fail(f"unsupported value {show(version)}", "version")
        description = r.get("description", str, default=None)
        rules = r.get("rules", list, default=[])
        r.done()
        return cls(rules=read_rules(r, rules, "rules", operations), description=description)

    @classmethod
    def load(cls, path: str | Path) -> FaultPlan:
        """Read a ``.toml`` or ``.json`` plan; any problem is a one-line :class:`FaultPlanError`."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix not in (".toml", ".json"):
            raise FaultPlanError(f"fault plan {p}: expected a .toml or .json file")
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise FaultPlanError(f"fault plan {p}: cannot read: {exc.strerror or exc}") from None
        try:
            data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise FaultPlanError(f"fault plan {p}: syntax error: {first}") from None
        try:
            return cls.from_dict(data)
        except FaultPlanError as exc:
            raise FaultPlanError(f"{p}: {exc}") from None


PLAN = "fault plan"


def _plan_error(source: str, where: str, reason: str) -> FaultPlanError:
    return FaultPlanError(f"{source}: {where}: {reason}" if where else f"{source}: {reason}")


def read_rules(
    r: OptionsReader,
    rules: list[Any],
    where: str,
    operations: Mapping[str, Iterable[str] | None] | None = None,
) -> tuple[Rule, ...]:
    """The rules at ``where`` of what ``r`` reads (a plan's ``rules``, a scenario's
    ``fakes.<name>.faults``), validated with ``r``'s source and errors."""
    known: dict[str, frozenset[str] | None] = dict(OPERATIONS)
    for fake, ops in (operations or {}).items():
        known[fake] = None if ops is None else frozenset(ops)
    return tuple(
        _parse_rule(i, r.nested(raw, f"{r.path(where)}[{i}]"), known) for i, raw in enumerate(rules)
    )


def _names(t: OptionsReader, key: str, allowed: Iterable[str] | None = None) -> frozenset[str]:
    value = t.get(key, None)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        t.fail("expected a string or a list of strings", key)
    if allowed is not None:
        allowed = set(allowed)
        for v in items:
            if v not in allowed:
                t.fail(f"unknown value {v!r}", key)
    return frozenset(items)


def parse_time(value: Any, where: str) -> TimeSpec:
    """An aware ISO-8601 datetime (string or TOML datetime) or a relative duration."""
    return _time(OptionsReader(PLAN, {}, "", _plan_error), where, value)


def _time(t: OptionsReader, key: str, value: Any) -> TimeSpec:
    found = t.offset_or_instant(key, value, None)
    if isinstance(found, timedelta):
        return TimeSpec(relative=found)
    return TimeSpec(absolute=found)


def _parse_rule(index: int, t: OptionsReader, known: Mapping[str, frozenset[str] | None]) -> Rule:
    rtype = t.get("type", None)
    if rtype not in RULE_TYPES:
        t.fail(f"{show(rtype)} is not one of {', '.join(RULE_TYPES)}", "type")
    if rtype == "outage":
        t.renamed("kind", "mode")  # the old spelling (harness.spellings)
    unknown = sorted(set(t.data) - _COMMON_KEYS - _TYPE_KEYS[rtype])
    if unknown:
        t.fail(f"unknown key {unknown[0]!r} for type {rtype!r}")
    t.seen.update(t.data)  # every key is known to the type; each is read below
    fields: dict[str, Any] = {"index": index, "type": rtype}
    fields.update(_matching(t, known))
    fields.update(_window(t))
    fields.update(_by_type(t, rtype))
    fields.update(_reply(t))
    return Rule(**fields)


def _matching(t: OptionsReader, known: Mapping[str, frozenset[str] | None]) -> dict[str, Any]:
    """What a rule applies to: its name, fakes, operations, business keys, hosts."""
    fields: dict[str, Any] = {"name": t.get("name", str, default=None)}
    fakes = _names(t, "fake", known) if t.has("fake") else None
    fields["fakes"] = fakes
    if t.has("operation"):
        sets = [known[f] for f in (fakes or known)]
        allowed = None if None in sets else set().union(*sets)  # type: ignore[arg-type]
        fields["operations"] = _names(t, "operation", allowed)
    if t.has("business_key"):
        fields["business_keys"] = _names(t, "business_key")
    if t.has("host"):
        fields["hosts"] = _names(t, "host")
    return fields


def _window(t: OptionsReader) -> dict[str, Any]:
    """When and how often: start, end, max_count, probability."""
    fields: dict[str, Any] = {}
    for key in ("start", "end"):
        if t.has(key):
            fields[key] = _time(t, key, t.data[key])
    start, end = fields.get("start"), fields.get("end")
    if start and end:
        same_kind = (start.absolute is None) == (end.absolute is None)
        if same_kind and (end.absolute or end.relative) <= (start.absolute or start.relative):
            t.fail(f"{t.data['end']!s} is not after start {t.data['start']!s}", "end")
    if t.has("max_count"):
        fields["max_count"] = t.integer("max_count", 1)
    if t.has("probability"):
        p = t.data["probability"]
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
            t.fail(f"{show(p)} is outside [0, 1]", "probability")
        fields["probability"] = float(p)
    return fields


def _by_type(t: OptionsReader, rtype: str) -> dict[str, Any]:
    """The fields one rule type has: an outage's mode, an error's status, …"""
    if rtype == "outage":
        mode = t.get("mode", None, default="503")
        if mode not in OUTAGE_KINDS:
            t.fail(f"{show(mode)} is not one of {', '.join(OUTAGE_KINDS)}", "mode")
        return {"mode": mode}
    if rtype == "error":
        return {"status": t.integer("status", 200, 599, default=500)}
    if rtype == "rate_limit":
        return {"retry_after": t.integer("retry_after", 0, default=1)}
    if rtype == "latency":
        if not t.has("ms"):
            t.fail("required for type 'latency'", "ms")
        return {"ms": t.integer("ms", 0)}
    return {}


def _reply(t: OptionsReader) -> dict[str, Any]:
    """What a faulted call answers with: a message, a JSON envelope."""
    fields: dict[str, Any] = {}
    if t.has("message"):
        fields["message"] = t.get("message", str)
    if t.has("envelope"):
        try:
            json.dumps(t.data["envelope"])
        except (TypeError, ValueError):
            t.fail("not JSON-encodable", "envelope")
        fields["envelope"] = t.data["envelope"]
    return fields


def _uniform(
    seed: int | str, rule: int, fake: str, operation: str, key: str | None, n: int
) -> float:
    """A reproducible draw in [0, 1) from the decision's identity alone."""
    material = "\x1f".join(
        (str(seed), str(rule), fake, operation, "" if key is None else key, str(n))
    )
    digest = hashlib.blake2b(material.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class Decision:
    """One call to :meth:`FaultInjector.decide` and its outcome, kept for inspection."""

    fake: str
    operation: str
    business_key: str | None
    n: int
    at: datetime
    fault: Fault | None


class FaultInjector:
    """Applies a plan: ``decide()`` per request, reproducible for a given seed and origin."""

    def __init__(
        self, plan: FaultPlan, seed: int | str = 0, origin: datetime | None = None
    ) -> None:
        if origin is not None and origin.utcoffset() is None:
            raise FaultPlanError("fault plan: origin must be timezone-aware")
        self.plan = plan
        self.seed = seed
        self.origin = origin
        self._windows: list[tuple[datetime | None, datetime | None]] = []
        for rule in plan.rules:
            where = f"rules[{rule.index}]"
            start = rule.start.resolve(origin, f"{where}.start") if rule.start else None
            end = rule.end.resolve(origin, f"{where}.end") if rule.end else None
            if start is not None and end is not None and end <= start:
                raise FaultPlanError(
                    f"fault plan: {where}.end: {end.isoformat()} is not after start"
                )
            self._windows.append((start, end))
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str, str | None]] = Counter()
        self._fired: Counter[int] = Counter()
        self.decisions: list[Decision] = []

    def decide(
        self,
        fake: str,
        operation: str,
        business_key: str | None,
        now: datetime,
        *,
        host: str | None = None,
    ) -> Fault | None:
        """The fault for this request, or None. Latency rules add up; the first other rule wins."""
        with self._lock:
            ident = (fake, operation, business_key)
            n = self._calls[ident]
            self._calls[ident] += 1
            chosen: Rule | None = None
            latency = 0
            for rule in self.plan.rules:
                if chosen is not None and rule.type != "latency":
                    continue
                if not self._matches(rule, fake, operation, business_key, host, now):
                    continue
                if rule.max_count is not None and self._fired[rule.index] >= rule.max_count:
                    continue
                if rule.probability < 1.0 and (
                    _uniform(self.seed, rule.index, fake, operation, business_key, n)
                    >= rule.probability
                ):
                    continue
                self._fired[rule.index] += 1
                if rule.type == "latency":
                    latency += rule.ms
                else:
                    chosen = rule
            fault = _fault_for(chosen, latency)
            self.decisions.append(Decision(fake, operation, business_key, n, now, fault))
            return fault

    def _matches(
        self,
        rule: Rule,
        fake: str,
        operation: str,
        business_key: str | None,
        host: str | None,
        now: datetime,
    ) -> bool:
        if rule.fakes is not None and fake not in rule.fakes:
            return False
        if rule.operations is not None and operation not in rule.operations:
            return False
        if rule.business_keys is not None and business_key not in rule.business_keys:
            return False
        if rule.hosts is not None and host not in rule.hosts:
            return False
        start, end = self._windows[rule.index]
        if start is not None and now < start:
            return False
        return not (end is not None and now >= end)

    def fired(self, rule_index: int) -> int:
        """How many times a rule has fired so far."""
        with self._lock:
            return self._fired[rule_index]


def _fault_for(rule: Rule | None, latency: int) -> Fault | None:
    if rule is None:
        return Fault(mode="latency", latency_ms=latency) if latency else None
    common: dict[str, Any] = {
        "rule": rule.index,
        "name": rule.name,
        "latency_ms": latency,
        "message": rule.message,
        "envelope": rule.envelope,
    }
    if rule.type == "outage":
        assert rule.mode is not None
        status = 503 if rule.mode == "503" else None
        return Fault(mode=rule.mode, status=status, **common)
    if rule.type == "error":
        return Fault(mode="error", status=rule.status, **common)
    if rule.type == "rate_limit":
        return Fault(mode="rate_limit", status=429, retry_after=rule.retry_after, **common)
    return Fault(mode="lost_response", **common)
