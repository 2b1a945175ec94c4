"""The strategies in :mod:`harness.search.strategies` produce what they promise."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests
import responses
from croniter import croniter
from hypothesis import given

from harness.fakes.faults import FaultInjector, FaultPlan
from harness.fakes.operations import OPERATIONS
from harness.search.strategies import (
    cron_expressions,
    fault_plans,
    load_shapes,
    registrar_outcomes,
    schedule_sets,
    stripe_outcomes,
    virtualmin_outcomes,
)

START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@given(fault_plans(business_keys=("example.ro",)))
def test_every_generated_fault_plan_is_valid(plan):
    parsed = FaultPlan.from_dict(plan)
    assert len(parsed.rules) == len(plan["rules"])
    injector = FaultInjector(parsed, seed=1, origin=START)
    fault = injector.decide("registrar", "domain.renew", "example.ro", START)
    assert fault is None or fault.mode


@given(fault_plans(min_rules=1, fakes=("registrar",), operations={"registrar": ("domain.renew",)}))
def test_fault_plans_stay_inside_the_requested_space(plan):
    for rule in plan["rules"]:
        assert rule["fake"] == "registrar"
        assert rule.get("operation", "domain.renew") == "domain.renew"
        assert rule.get("operation", "domain.renew") in OPERATIONS["registrar"]


@given(load_shapes())
def test_load_shapes_give_sorted_arrivals_inside_the_horizon(shape):
    offsets = shape.offsets()
    assert len(offsets) == shape.count
    assert offsets == sorted(offsets)
    assert all(dt.timedelta(0) <= o <= shape.horizon for o in offsets)


@given(cron_expressions())
def test_cron_expressions_are_valid(expr):
    assert croniter.is_valid(expr)


@pytest.mark.django_db
@given(schedule_sets())
def test_schedule_sets_are_valid_django_q_rows(specs):
    from django_q.models import Schedule

    assert len({s["name"] for s in specs}) == len(specs)
    for spec in specs:
        fields = {k: v for k, v in spec.items() if k != "next_run_offset"}
        row = Schedule(**fields, next_run=START + spec["next_run_offset"])
        row.full_clean(validate_unique=False)


@given(virtualmin_outcomes() | registrar_outcomes() | stripe_outcomes())
def test_outcomes_reach_a_requests_client_as_described(outcome):
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, re.compile(r"https://svc\.test/.*"), outcome.callback)
        if outcome.exception is not None:
            with pytest.raises(outcome.exception):
                requests.post("https://svc.test/x", timeout=1)
            assert outcome.describe().endswith(outcome.exception.__name__)
        else:
            response = requests.post("https://svc.test/x", timeout=1)
            assert response.status_code == outcome.status
            assert response.json() == outcome.body
