"""Fault plans: validation with one-line errors, windows, budgets and seeded determinism."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.durations import parse_duration
from harness.fakes.faults import FaultInjector, FaultPlan, FaultPlanError
from tests.fakes.support import ORIGIN

PLAN_TOML = """
description = "retry storm on renewals"

[[rules]]
name = "vm down"
type = "outage"
mode = "connection_refused"
fake = "virtualmin"
start = "36h"
end = "38h"

[[rules]]
type = "error"
fake = "payments"
operation = "payment_intent.create"
probability = 0.3
status = 500

[[rules]]
type = "rate_limit"
fake = "registrar"
operation = ["domain.renew", "domain.register"]
retry_after = 60
business_key = "example.com"
max_count = 2

[[rules]]
type = "latency"
ms = 1200
start = 2026-03-01T10:00:00+00:00

[[rules]]
type = "lost_response"
fake = "registrar"
operation = "domain.renew"
probability = 0.5
"""


def test_toml_and_json_plans_load_identically(tmp_path: Path) -> None:
    toml_path = tmp_path / "plan.toml"
    toml_path.write_text(PLAN_TOML)
    plan = FaultPlan.load(toml_path)
    assert [r.type for r in plan.rules] == [
        "outage",
        "error",
        "rate_limit",
        "latency",
        "lost_response",
    ]
    assert plan.rules[0].start.relative == timedelta(hours=36)
    assert plan.rules[2].operations == frozenset({"domain.renew", "domain.register"})
    as_json = {
        "rules": [
            {
                "type": "outage",
                "mode": "connection_refused",
                "fake": "virtualmin",
                "start": "36h",
                "end": "38h",
                "name": "vm down",
            },
            {
                "type": "error",
                "fake": "payments",
                "operation": "payment_intent.create",
                "probability": 0.3,
                "status": 500,
            },
            {
                "type": "rate_limit",
                "fake": "registrar",
                "operation": ["domain.renew", "domain.register"],
                "retry_after": 60,
                "business_key": "example.com",
                "max_count": 2,
            },
            {"type": "latency", "ms": 1200, "start": "2026-03-01T10:00:00+00:00"},
            {
                "type": "lost_response",
                "fake": "registrar",
                "operation": "domain.renew",
                "probability": 0.5,
            },
        ],
        "description": "retry storm on renewals",
    }
    json_path = tmp_path / "plan.json"
    json_path.write_text(json.dumps(as_json))
    assert FaultPlan.load(json_path) == plan


@pytest.mark.parametrize(
    ("plan", "fragment"),
    [
        ({"rulez": []}, "rulez: unknown key"),
        ({"rules": [{"type": "meteor"}]}, "rules[0].type: 'meteor' is not one of"),
        ({"rules": [{"type": "outage", "mode": "fire"}]}, "rules[0].mode: 'fire'"),
        (
            {"rules": [{"type": "error", "probability": 1.5}]},
            "rules[0].probability: 1.5 is outside",
        ),
        ({"rules": [{"type": "error", "probability": -0.1}]}, "is outside [0, 1]"),
        ({"rules": [{"type": "error", "fake": "paypal"}]}, "rules[0].fake: unknown value 'paypal'"),
        (
            {"rules": [{"type": "error", "fake": "virtualmin", "operation": "domain.renew"}]},
            "rules[0].operation: unknown value 'domain.renew'",
        ),
        ({"rules": [{"type": "error", "start": "36x"}]}, "rules[0].start: '36x' is neither"),
        (
            {"rules": [{"type": "error", "start": "2h", "end": "1h"}]},
            "rules[0].end: 1h is not after",
        ),
        ({"rules": [{"type": "error", "start": "2026-03-01T10:00:00"}]}, "has no UTC offset"),
        ({"rules": [{"type": "error", "colour": "red"}]}, "unknown key 'colour' for type 'error'"),
        ({"rules": [{"type": "latency"}]}, "rules[0].ms: required"),
        ({"rules": [{"type": "error", "max_count": 0}]}, "rules[0].max_count: expected an integer"),
        ({"rules": [{"type": "error", "status": 99}]}, "rules[0].status"),
        ({"rules": [{"type": "outage", "retry_after": 3}]}, "unknown key 'retry_after'"),
        ({"rules": "nope"}, "rules: expected list, got 'nope'"),
    ],
)
def test_invalid_plans_fail_with_one_line(plan: dict[str, Any], fragment: str) -> None:
    with pytest.raises(FaultPlanError) as info:
        FaultPlan.from_dict(plan)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert isinstance(info.value, ValueError)


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[rules]\ntype=")
    with pytest.raises(FaultPlanError, match=r"broken\.toml: syntax error"):
        FaultPlan.load(broken)
    with pytest.raises(FaultPlanError, match=r"expected a \.toml or \.json"):
        FaultPlan.load(tmp_path / "plan.yaml")
    with pytest.raises(FaultPlanError, match="cannot read"):
        FaultPlan.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"rules": [{"type": "error", "probability": 2}]}')
    with pytest.raises(FaultPlanError, match=r"bad\.json: fault plan: rules\[0\]\.probability"):
        FaultPlan.load(bad)


def test_relative_times_need_an_origin_and_mixed_windows_are_checked() -> None:
    plan = FaultPlan.from_dict({"rules": [{"type": "error", "start": "1h"}]})
    with pytest.raises(FaultPlanError, match="relative but the injector has no origin"):
        FaultInjector(plan, seed=1)
    mixed = FaultPlan.from_dict(
        {"rules": [{"type": "error", "start": "2026-03-02T00:00:00+00:00", "end": "1h"}]}
    )
    with pytest.raises(FaultPlanError, match=r"rules\[0\]\.end: .* is not after start"):
        FaultInjector(mixed, seed=1, origin=ORIGIN)


def test_durations() -> None:
    assert parse_duration("2h30m") == timedelta(hours=2, minutes=30)
    assert parse_duration("1d") == timedelta(days=1)
    assert parse_duration("250ms") == timedelta(milliseconds=250)
    assert parse_duration("1m30s") == timedelta(minutes=1, seconds=30)
    assert parse_duration("") is None
    assert parse_duration("h") is None


def test_windows_keys_and_budgets() -> None:
    plan = FaultPlan.from_dict(
        {
            "rules": [
                {
                    "type": "outage",
                    "mode": "503",
                    "fake": "virtualmin",
                    "start": "36h",
                    "end": "38h",
                },
                {
                    "type": "rate_limit",
                    "fake": "registrar",
                    "business_key": "a.ro",
                    "max_count": 2,
                    "retry_after": 5,
                },
            ]
        }
    )
    inj = FaultInjector(plan, seed=0, origin=ORIGIN)
    at = ORIGIN + timedelta(hours=36)
    assert inj.decide("virtualmin", "info", None, ORIGIN) is None
    assert inj.decide("virtualmin", "info", None, at).mode == "503"
    assert inj.decide("virtualmin", "info", None, at + timedelta(hours=2)) is None
    assert inj.decide("payments", "customer.create", None, at) is None
    assert inj.decide("registrar", "domain.renew", "b.ro", ORIGIN) is None
    kinds = [inj.decide("registrar", "domain.renew", "a.ro", ORIGIN) for _ in range(3)]
    assert [k.mode if k else None for k in kinds] == ["rate_limit", "rate_limit", None]
    assert kinds[0].retry_after == 5
    assert inj.fired(1) == 2


def test_probability_rate_is_roughly_honoured() -> None:
    plan = FaultPlan.from_dict({"rules": [{"type": "error", "probability": 0.25}]})
    inj = FaultInjector(plan, seed="s")
    hits = sum(
        inj.decide("payments", "payment_intent.create", f"k{i}", ORIGIN) is not None
        for i in range(2000)
    )
    assert 400 < hits < 600


CALL = st.tuples(
    st.sampled_from(["virtualmin", "payments", "registrar"]),
    st.sampled_from(["create-domain", "payment_intent.create", "domain.renew"]),
    st.sampled_from(["a", "b", "c", None]),
    st.integers(min_value=0, max_value=72),
)
RULE = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["error", "lost_response", "rate_limit"]),
        "probability": st.floats(min_value=0, max_value=1),
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=st.lists(RULE, min_size=1, max_size=4),
    calls=st.lists(CALL, max_size=30),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_same_plan_and_seed_give_identical_faults(
    rules: list[dict[str, Any]], calls: list[tuple[str, str, str | None, int]], seed: int
) -> None:
    plan = FaultPlan.from_dict({"rules": rules})

    def run(order: list[tuple[str, str, str | None, int]]) -> list[Any]:
        inj = FaultInjector(plan, seed=seed, origin=ORIGIN)
        return [(f, o, k, inj.decide(f, o, k, ORIGIN + timedelta(hours=h))) for f, o, k, h in order]

    assert run(calls) == run(calls)
    # Per-key independence: the faults seen by key "a" do not depend on other keys' calls.
    only_a = [c for c in calls if c[2] == "a"]
    from_all = [r for r in run(calls) if r[2] == "a"]
    assert run(only_a) == from_all


def test_every_routed_operation_can_be_named_in_a_plan() -> None:
    from harness.fakes import payments
    from harness.fakes.operations import PAYMENTS_OPERATIONS

    routed = {op for _, _, op in payments._ROUTES}
    assert routed <= PAYMENTS_OPERATIONS
    plan = FaultPlan.from_dict(
        {"rules": [{"type": "error", "fake": "payments", "operation": sorted(routed)}]}
    )
    assert plan.rules[0].operations == frozenset(routed)


def test_one_duration_grammar_for_fault_rules_and_scenarios():
    """'1.5s' and '2h 30m' work in a fault rule as they do for a scenario's duration."""
    from harness.durations import parse_duration as scenario_grammar

    plan = FaultPlan.from_dict(
        {
            "rules": [
                {"fake": "payments", "type": "latency", "ms": 5, "start": "1.5s", "end": "2h 30m"}
            ]
        }
    )
    assert plan.rules[0].end.relative == scenario_grammar("2h30m")
    assert parse_duration("1.5s").total_seconds() == 1.5
    for bad in (float("nan"), float("inf"), -1, True, "1.5", "2x"):
        assert parse_duration(bad) is None
