"""The Gandi-style registrar fake driven by ``requests`` over both transports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from harness.fakes.faults import FaultInjector, FaultPlan
from harness.fakes.ledger import Ledger
from harness.fakes.registrar import DEFAULT_TOKEN, FakeRegistrar
from tests.fakes.support import Clock, reach

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
OWNER = {"email": "ana@example.ro", "given": "Ana", "family": "Pop"}


def _post(base: str, path: str, body: Any = None, **kw: Any) -> requests.Response:
    kw.setdefault("headers", AUTH)
    return requests.post(base + path, json=body, timeout=kw.pop("timeout", 5), **kw)


def test_check_register_info_renew(transport: str, ledger: Ledger, clock: Clock) -> None:
    fake = FakeRegistrar(ledger, clock, taken=["google.com"])
    with reach(transport, fake, "https://api.gandi.fake/v5") as base:
        base = base if base.endswith("/v5") else base + "/v5"
        check = requests.get(
            base + "/domain/check", params={"name": "shop.ro"}, headers=AUTH, timeout=5
        )
        taken = requests.get(
            base + "/domain/check", params={"name": "google.com"}, headers=AUTH, timeout=5
        )
        reg = _post(base, "/domain/domains", {"fqdn": "shop.ro", "duration": 1, "owner": OWNER})
        info = requests.get(base + "/domain/domains/shop.ro", headers=AUTH, timeout=5)
        clock.advance(days=300)
        renew = _post(base, "/domain/domains/shop.ro/renew", {"duration": 2})
    assert check.json()["products"][0]["status"] == "available"
    assert taken.json()["products"][0]["status"] == "unavailable"
    assert reg.status_code == 202
    assert reg.json()["expires_at"] == "2027-03-01T09:00:00+00:00"
    assert reg.headers["Location"] == "/v5/domain/domains/shop.ro"
    assert info.json()["dates"]["registry_ends_at"] == "2027-03-01T09:00:00+00:00"
    assert renew.status_code == 200
    assert renew.json()["expires_at"] == "2029-03-01T09:00:00+00:00"  # from the old expiry
    assert fake.domains["shop.ro"].expires_at == datetime(2029, 3, 1, 9, tzinfo=UTC)
    assert [(c.operation, c.years, c.amount) for c in fake.charges] == [
        ("create", 1, 4500),
        ("renew", 2, 9000),
    ]
    assert [(e.effect, e.business_key) for e in ledger.effects()] == [
        ("domain.registered", "shop.ro"),
        ("domain.renewed", "shop.ro"),
    ]
    assert "owner" not in ledger.effects()[0].detail["body"]


def test_paths_work_without_the_v5_prefix(ledger: Ledger, clock: Clock) -> None:
    fake = FakeRegistrar(ledger, clock)
    with reach("responses", fake) as base:
        resp = requests.get(base + "/domain/check?name=a.com", headers=AUTH, timeout=5)
    assert resp.status_code == 200


def _error_cases(base: str) -> dict[str, requests.Response]:
    return {
        "no_auth": requests.get(base + "/domain/domains/held.com", timeout=5),
        "bad_token": requests.get(
            base + "/domain/domains/held.com", headers={"Authorization": "Bearer nope"}, timeout=5
        ),
        "renew_unknown": _post(base, "/domain/domains/ghost.com/renew", {"duration": 1}),
        "info_unknown": requests.get(base + "/domain/domains/ghost.com", headers=AUTH, timeout=5),
        "register_taken": _post(
            base, "/domain/domains", {"fqdn": "held.com", "duration": 1, "owner": OWNER}
        ),
        "bad_duration": _post(base, "/domain/domains/held.com/renew", {"duration": 0}),
        "string_duration": _post(base, "/domain/domains/held.com/renew", {"duration": "1"}),
        "too_long": _post(base, "/domain/domains/held.com/renew", {"duration": 10}),
        "bad_json": _post(
            base,
            "/domain/domains/held.com/renew",
            data=b"{nope",
            headers={**AUTH, "Content-Type": "application/json"},
        ),
        "not_object": _post(base, "/domain/domains", [1, 2]),
        "missing_fqdn": _post(base, "/domain/domains", {"owner": OWNER}),
        "invalid_fqdn": _post(base, "/domain/domains", {"fqdn": "bad..ro", "owner": OWNER}),
        "no_owner": _post(base, "/domain/domains", {"fqdn": "new.ro"}),
        "unknown_tld": requests.get(base + "/domain/check?name=x.zz", headers=AUTH, timeout=5),
        "missing_name": requests.get(base + "/domain/check", headers=AUTH, timeout=5),
        "wrong_method": requests.delete(base + "/domain/domains/held.com", headers=AUTH, timeout=5),
        "unknown_path": requests.get(base + "/domain/whatever", headers=AUTH, timeout=5),
        "too_big": _post(base, "/domain/domains", {"fqdn": "a.ro", "pad": "x" * 5000}),
    }


def test_errors_are_gandi_shaped(transport: str, ledger: Ledger, clock: Clock) -> None:
    fake = FakeRegistrar(ledger, clock, max_body_bytes=2048)
    fake.add_domain("held.com", expires_at=datetime(2027, 1, 1, tzinfo=UTC))
    with reach(transport, fake) as base:
        answers = _error_cases(base)
    expected = {
        "no_auth": 401,
        "bad_token": 401,
        "renew_unknown": 404,
        "info_unknown": 404,
        "register_taken": 409,
        "bad_duration": 400,
        "string_duration": 400,
        "too_long": 422,
        "bad_json": 400,
        "not_object": 400,
        "missing_fqdn": 400,
        "invalid_fqdn": 400,
        "no_owner": 400,
        "unknown_tld": 400,
        "missing_name": 400,
        "wrong_method": 405,
        "unknown_path": 404,
        "too_big": 413,
    }
    for name, resp in answers.items():
        assert resp.status_code == expected[name], name
        body = resp.json()
        if resp.status_code == 400:
            assert body["status"] == "error" and body["errors"][0]["description"], name
        else:
            assert body["code"] == resp.status_code and body["object"].startswith("HTTP"), name
        assert "Traceback" not in resp.text
    assert answers["bad_duration"].json()["errors"][0]["name"] == "duration"
    assert ledger.effects() == [] and fake.charges == []
    assert fake.domains["held.com"].expires_at == datetime(2027, 1, 1, tzinfo=UTC)


def test_rate_limit_has_integer_retry_after(transport: str, ledger: Ledger, clock: Clock) -> None:
    plan = FaultPlan.from_dict(
        {"rules": [{"type": "rate_limit", "fake": "registrar", "retry_after": 17, "max_count": 1}]}
    )
    fake = FakeRegistrar(ledger, clock, FaultInjector(plan, seed=0))
    with reach(transport, fake) as base:
        limited = requests.get(base + "/domain/check?name=a.com", headers=AUTH, timeout=5)
        ok = requests.get(base + "/domain/check?name=a.com", headers=AUTH, timeout=5)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "17"
    assert limited.json()["object"] == "HTTPTooManyRequests"
    assert ok.status_code == 200


def test_lost_renewal_retried_renews_twice(transport: str, ledger: Ledger, clock: Clock) -> None:
    """No idempotency at the registrar: the ledger shows the duplicate effect per key."""
    plan = FaultPlan.from_dict(
        {
            "rules": [
                {
                    "type": "lost_response",
                    "operation": "domain.renew",
                    "business_key": "a.ro",
                    "max_count": 1,
                }
            ]
        }
    )
    fake = FakeRegistrar(ledger, clock, FaultInjector(plan, seed=0))
    fake.add_domain("a.ro", expires_at=datetime(2026, 4, 1, tzinfo=UTC))
    with reach(transport, fake) as base:
        with pytest.raises(requests.exceptions.ReadTimeout):
            _post(
                base,
                "/domain/domains/a.ro/renew",
                {"duration": 1},
                headers={**AUTH, "X-Harness-Task-Id": "renew-1", "X-Harness-Attempt": "1"},
                timeout=0.1,
            )
        retry = _post(
            base,
            "/domain/domains/a.ro/renew",
            {"duration": 1},
            headers={**AUTH, "X-Harness-Task-Id": "renew-1", "X-Harness-Attempt": "2"},
        )
    assert retry.json()["expires_at"] == "2028-04-01T00:00:00+00:00"
    renewed = ledger.effects(effect="domain.renewed")
    assert [(e.business_key, e.attempt, e.fault) for e in renewed] == [
        ("a.ro", 1, "lost_response"),
        ("a.ro", 2, None),
    ]
    assert len(fake.charges) == 2
