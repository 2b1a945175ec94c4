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

from harness.durations import parse_duration
from harness.fakes.operations import OPERATIONS

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
    "outage": frozenset({"kind"}),
    "error": frozenset({"status", "message", "envelope"}),
    "rate_limit": frozenset({"retry_after", "message"}),
    "latency": frozenset({"ms"}),
    "lost_response": frozenset(),
}
_TOP_KEYS = frozenset({"version", "description", "rules"})


class FaultPlanError(ValueError):
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
    kind: str | None = None
    status: int | None = None
    message: str | None = None
    envelope: Any = None
    retry_after: int | None = None
    ms: int = 0


@dataclass(frozen=True)
class Fault:
    """What to do to one request.

    ``kind`` is one of ``503``, ``connection_refused``, ``read_timeout`` (outages), ``error``,
    ``429``, ``lost_response`` or ``latency`` (no failure, only ``latency_ms`` of virtual delay).
    """

    kind: str
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
        return self.kind in ("connection_refused", "read_timeout", "lost_response")

    @property
    def applies_request(self) -> bool:
        """The fake still performs the request (and its effect)."""
        return self.kind in ("latency", "lost_response")


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
        if not isinstance(data, Mapping):
            raise FaultPlanError(f"fault plan: expected a table/object, got {_show(data)}")
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise FaultPlanError(f"fault plan: unknown key {unknown[0]!r}")
        version = data.get("version", 1)
        if version != 1:
            raise FaultPlanError(f"fault plan: version: unsupported value {_show(version)}")
        description = data.get("description")
        if description is not None and not isinstance(description, str):
            raise FaultPlanError(
                f"fault plan: description: expected a string, got {_show(description)}"
            )
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list):
            raise FaultPlanError(f"fault plan: rules: expected a list, got {_show(raw_rules)}")
        known: dict[str, frozenset[str] | None] = dict(OPERATIONS)
        for fake, ops in (operations or {}).items():
            known[fake] = None if ops is None else frozenset(ops)
        return cls(
            rules=tuple(_parse_rule(i, r, known) for i, r in enumerate(raw_rules)),
            description=description,
        )

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


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _names(value: Any, where: str, allowed: Iterable[str] | None = None) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise FaultPlanError(f"fault plan: {where}: expected a string or a list of strings")
    if allowed is not None:
        allowed = set(allowed)
        for v in items:
            if v not in allowed:
                raise FaultPlanError(f"fault plan: {where}: unknown value {v!r}")
    return frozenset(items)


def parse_time(value: Any, where: str) -> TimeSpec:
    """An aware ISO-8601 datetime (string or TOML datetime) or a relative duration."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        rel = parse_duration(value)
        if rel is not None:
            return TimeSpec(relative=rel)
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise FaultPlanError(
                f"fault plan: {where}: {value!r} is neither a duration like '2h30m' "
                "nor an ISO-8601 datetime"
            ) from None
    else:
        raise FaultPlanError(
            f"fault plan: {where}: expected a duration or datetime string, got {_show(value)}"
        )
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise FaultPlanError(f"fault plan: {where}: {value!s} has no UTC offset")
    if not 1970 < dt.year < 9900:  # offsets from it stay datetimes (durations are ≤ 100 years)
        raise FaultPlanError(f"fault plan: {where}: {value!s} is outside 1971–9899")
    return TimeSpec(absolute=dt)


def _int(value: Any, where: str, low: int, high: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise FaultPlanError(
            f"fault plan: {where}: expected an integer {bound}, got {_show(value)}"
        )
    return value


def _parse_rule(index: int, raw: Any, known: Mapping[str, frozenset[str] | None]) -> Rule:
    at = f"rules[{index}]"
    if not isinstance(raw, Mapping):
        raise FaultPlanError(f"fault plan: {at}: expected a table/object, got {_show(raw)}")
    rtype = raw.get("type")
    if rtype not in RULE_TYPES:
        raise FaultPlanError(
            f"fault plan: {at}.type: {_show(rtype)} is not one of {', '.join(RULE_TYPES)}"
        )
    unknown = sorted(set(raw) - _COMMON_KEYS - _TYPE_KEYS[rtype])
    if unknown:
        raise FaultPlanError(f"fault plan: {at}: unknown key {unknown[0]!r} for type {rtype!r}")
    fields: dict[str, Any] = {"index": index, "type": rtype}
    fields.update(_matching(raw, at, known))
    fields.update(_window(raw, at))
    fields.update(_by_type(raw, at, rtype))
    fields.update(_reply(raw, at))
    return Rule(**fields)


def _matching(
    raw: Mapping[str, Any], at: str, known: Mapping[str, frozenset[str] | None]
) -> dict[str, Any]:
    """What a rule applies to: its name, fakes, operations, business keys, hosts."""
    fields: dict[str, Any] = {}
    if "name" in raw:
        if not isinstance(raw["name"], str):
            raise FaultPlanError(f"fault plan: {at}.name: expected a string")
        fields["name"] = raw["name"]
    fakes = _names(raw["fake"], f"{at}.fake", known) if "fake" in raw else None
    fields["fakes"] = fakes
    if "operation" in raw:
        sets = [known[f] for f in (fakes or known)]
        allowed = None if None in sets else set().union(*sets)  # type: ignore[arg-type]
        fields["operations"] = _names(raw["operation"], f"{at}.operation", allowed)
    if "business_key" in raw:
        fields["business_keys"] = _names(raw["business_key"], f"{at}.business_key")
    if "host" in raw:
        fields["hosts"] = _names(raw["host"], f"{at}.host")
    return fields


def _window(raw: Mapping[str, Any], at: str) -> dict[str, Any]:
    """When and how often: start, end, max_count, probability."""
    fields: dict[str, Any] = {}
    for key in ("start", "end"):
        if key in raw:
            fields[key] = parse_time(raw[key], f"{at}.{key}")
    start, end = fields.get("start"), fields.get("end")
    if start and end:
        same_kind = (start.absolute is None) == (end.absolute is None)
        if same_kind and (end.absolute or end.relative) <= (start.absolute or start.relative):
            raise FaultPlanError(
                f"fault plan: {at}.end: {raw['end']!s} is not after start {raw['start']!s}"
            )
    if "max_count" in raw:
        fields["max_count"] = _int(raw["max_count"], f"{at}.max_count", 1)
    if "probability" in raw:
        p = raw["probability"]
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
            raise FaultPlanError(f"fault plan: {at}.probability: {_show(p)} is outside [0, 1]")
        fields["probability"] = float(p)
    return fields


def _by_type(raw: Mapping[str, Any], at: str, rtype: str) -> dict[str, Any]:
    """The fields one rule type has: an outage's kind, an error's status, …"""
    if rtype == "outage":
        kind = raw.get("kind", "503")
        if kind not in OUTAGE_KINDS:
            raise FaultPlanError(
                f"fault plan: {at}.kind: {_show(kind)} is not one of {', '.join(OUTAGE_KINDS)}"
            )
        return {"kind": kind}
    if rtype == "error":
        return {"status": _int(raw.get("status", 500), f"{at}.status", 200, 599)}
    if rtype == "rate_limit":
        return {"retry_after": _int(raw.get("retry_after", 1), f"{at}.retry_after", 0)}
    if rtype == "latency":
        if "ms" not in raw:
            raise FaultPlanError(f"fault plan: {at}.ms: required for type 'latency'")
        return {"ms": _int(raw["ms"], f"{at}.ms", 0)}
    return {}


def _reply(raw: Mapping[str, Any], at: str) -> dict[str, Any]:
    """What a faulted call answers with: a message, a JSON envelope."""
    fields: dict[str, Any] = {}
    if "message" in raw:
        if not isinstance(raw["message"], str):
            raise FaultPlanError(f"fault plan: {at}.message: expected a string")
        fields["message"] = raw["message"]
    if "envelope" in raw:
        try:
            json.dumps(raw["envelope"])
        except (TypeError, ValueError):
            raise FaultPlanError(f"fault plan: {at}.envelope: not JSON-encodable") from None
        fields["envelope"] = raw["envelope"]
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
        return Fault(kind="latency", latency_ms=latency) if latency else None
    common: dict[str, Any] = {
        "rule": rule.index,
        "name": rule.name,
        "latency_ms": latency,
        "message": rule.message,
        "envelope": rule.envelope,
    }
    if rule.type == "outage":
        assert rule.kind is not None
        status = 503 if rule.kind == "503" else None
        return Fault(kind=rule.kind, status=status, **common)
    if rule.type == "error":
        return Fault(kind="error", status=rule.status, **common)
    if rule.type == "rate_limit":
        return Fault(kind="429", status=429, retry_after=rule.retry_after, **common)
    return Fault(kind="lost_response", **common)
