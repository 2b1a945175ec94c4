"""The Virtualmin fake driven by ``requests`` over both transports."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from harness.fakes.faults import FaultInjector, FaultPlan
from harness.fakes.ledger import ATTEMPT_HEADER, TASK_HEADER, Ledger
from harness.fakes.transport import mount_responses
from harness.fakes.virtualmin import API_PATH, FakeVirtualmin
from tests.fakes.support import ORIGIN, Clock, reach

AUTH = ("admin", "secret")


def call(
    base: str, program: str, auth: Any = AUTH, timeout: float = 5, **params: str
) -> requests.Response:
    return requests.get(
        base + API_PATH,
        params={"program": program, "json": "1", **params},
        auth=auth,
        timeout=timeout,
    )


def create(
    base: str, domain: str = "shop.example.com", user: str = "shop", timeout: float = 5
) -> requests.Response:
    return call(
        base,
        "create-domain",
        timeout=timeout,
        domain=domain,
        user=user,
        **{"pass": "hunter2"},
        template="Default Settings",
        quota="1000",
        comment="seed-abc",
    )


def test_provisioning_sequence_and_lifecycle(transport: str, ledger: Ledger, clock: Clock) -> None:
    vm = FakeVirtualmin(ledger, clock)
    with reach(transport, vm) as base:
        info = call(base, "info").json()
        assert info["command"] == "info" and info["status"] == "success"
        assert info["data"]["virtualmin_version"]
        assert call(base, "list-domains", multiline="").json() == {
            "command": "list-domains",
            "status": "success",
            "data": [],
        }
        templates = call(base, "list-templates", **{"name-only": ""}).json()
        assert {"name": "Default Settings"} in templates["data"]

        created = create(base)
        assert created.status_code == 200
        assert created.json()["status"] == "success"
        assert "shop.example.com" in created.json()["output"]

        listed = call(base, "list-domains", multiline="").json()["data"]
        assert [d["name"] for d in listed] == ["shop.example.com"]
        assert listed[0]["values"]["Username"] == "shop"
        assert listed[0]["values"]["Server byte quota"] == "1000 MB"
        assert listed[0]["values"]["Status"] == "Enabled"

        assert call(base, "disable-domain", domain="shop.example.com").json()["status"] == "success"
        status = call(base, "list-domains", multiline="").json()["data"][0]["values"]["Status"]
        assert status == "Disabled"
        assert call(base, "enable-domain", domain="shop.example.com").json()["status"] == "success"
        bw = call(base, "list-bandwidth", domain="shop.example.com").json()
        assert bw["data"][0]["values"]["Total bytes"] == "0"
        assert call(base, "delete-domain", domain="shop.example.com").json()["status"] == "success"
        assert call(base, "list-domains", **{"name-only": ""}).json()["data"] == []

    effects = [(e.effect, e.business_key) for e in ledger.effects(fake="virtualmin")]
    assert effects == [
        ("domain.created", "shop.example.com"),
        ("domain.disabled", "shop.example.com"),
        ("domain.enabled", "shop.example.com"),
        ("domain.deleted", "shop.example.com"),
    ]
    assert all(e.at == ORIGIN for e in ledger.entries())


@pytest.mark.parametrize(
    ("setup", "program", "params", "error"),
    [
        (
            True,
            "create-domain",
            {"domain": "shop.example.com", "user": "other", "pass": "x"},
            "Virtual server shop.example.com already exists",
        ),
        (
            False,
            "delete-domain",
            {"domain": "ghost.example.com"},
            "Virtual server ghost.example.com does not exist",
        ),
        (
            False,
            "disable-domain",
            {"domain": "ghost.example.com"},
            "Virtual server ghost.example.com does not exist",
        ),
        (
            False,
            "create-domain",
            {"domain": "bad..domain", "user": "u", "pass": "x"},
            "Invalid domain name : bad..domain",
        ),
        (
            True,
            "enable-domain",
            {"domain": "shop.example.com"},
            "Virtual server shop.example.com is not disabled",
        ),
        (
            False,
            "create-domain",
            {"domain": "a.example.com", "user": "u"},
            "Missing required parameter : pass (program create-domain)",
        ),
        (False, "frobnicate", {}, "Unknown program frobnicate"),
    ],
)
def test_failure_envelopes(
    transport: str,
    ledger: Ledger,
    clock: Clock,
    setup: bool,
    program: str,
    params: dict[str, str],
    error: str,
) -> None:
    vm = FakeVirtualmin(ledger, clock)
    with reach(transport, vm) as base:
        if setup:
            assert create(base).json()["status"] == "success"
        resp = call(base, program, **params)
    assert resp.status_code == 200
    assert resp.json() == {"command": program, "status": "failure", "error": error}


def test_login_failure_is_401_with_envelope_and_no_effect(
    transport: str, ledger: Ledger, clock: Clock
) -> None:
    vm = FakeVirtualmin(ledger, clock)
    with reach(transport, vm) as base:
        bad = call(
            base,
            "create-domain",
            auth=("admin", "wrong"),
            domain="x.example.com",
            user="x",
            **{"pass": "p"},
        )
        missing = call(base, "info", auth=None)
    for resp in (bad, missing):
        assert resp.status_code == 401
        assert resp.json()["error"] == "Login failed : Invalid username or password"
        assert resp.headers["WWW-Authenticate"].startswith("Basic")
    assert ledger.effects() == []
    assert vm.servers[next(iter(vm.servers))].domains == {}


def test_servers_are_keyed_by_host(ledger: Ledger, clock: Clock) -> None:
    vm = FakeVirtualmin(ledger, clock, servers=["vm1.example.test", "vm2.example.test"])
    vm1, vm2 = "https://vm1.example.test:10000", "https://vm2.example.test:10000"
    with responses.RequestsMock() as rsps:
        mount_responses(rsps, vm1, vm)
        mount_responses(rsps, vm2, vm)
        assert create(vm1).json()["status"] == "success"
        assert call(vm2, "list-domains", multiline="").json()["data"] == []
        assert create(vm2).json()["status"] == "success"  # independent state
        vm.set_healthy("vm2.example.test", False)
        down = call(vm2, "info")
        up = call(vm1, "info")
    assert down.status_code == 503 and down.json()["status"] == "failure"
    assert up.status_code == 200
    assert set(vm.servers["vm1.example.test"].domains) == {"shop.example.com"}
    assert set(vm.servers["vm2.example.test"].domains) == {"shop.example.com"}
    hosts = [e.detail["host"] for e in ledger.effects()]
    assert hosts == ["vm1.example.test", "vm2.example.test"]


def test_max_domains_fills_each_host_up_to_its_quota(ledger: Ledger, clock: Clock) -> None:
    """``max_domains`` (a scenario's ``[fakes.virtualmin] options``) holds for every host."""
    vm = FakeVirtualmin(ledger, clock, max_domains=1)
    with reach("responses", vm) as base:
        assert create(base).json()["status"] == "success"
        full = create(base, domain="second.example.com", user="second").json()
    assert full == {
        "command": "create-domain",
        "status": "failure",
        "error": "Cannot create virtual server second.example.com - server quota exceeded",
    }
    assert [e.business_key for e in ledger.effects()] == ["shop.example.com"]
    assert all(server.max_domains == 1 for server in vm.servers.values())
    for bad in (-1, "3", True, 1.5):
        with pytest.raises(ValueError, match="max_domains must be a whole number"):
            FakeVirtualmin(ledger, clock, max_domains=bad)  # type: ignore[arg-type]


def test_unknown_host_is_refused_when_servers_are_declared(ledger: Ledger, clock: Clock) -> None:
    vm = FakeVirtualmin(ledger, clock, servers=["vm1.example.test"])
    with reach("responses", vm, "https://other.example.test") as base:
        resp = call(base, "info")
    assert resp.status_code == 404 and resp.json()["status"] == "failure"


def test_ledger_attribution_and_no_passwords(transport: str, ledger: Ledger, clock: Clock) -> None:
    vm = FakeVirtualmin(ledger, clock)
    with reach(transport, vm) as base:
        requests.get(
            base + API_PATH,
            params={
                "program": "create-domain",
                "json": "1",
                "domain": "a.example.com",
                "user": "a",
                "pass": "TopSecret99",
            },
            auth=AUTH,
            headers={TASK_HEADER: "task-7", ATTEMPT_HEADER: "2"},
            timeout=5,
        )
    (entry,) = ledger.entries()
    assert (entry.task_id, entry.attempt) == ("task-7", 2)
    assert entry.effect == "domain.created" and entry.business_key == "a.example.com"
    dumped = ledger.to_json_lines()
    assert "TopSecret99" not in dumped and "secret" not in dumped
    assert entry.detail["params"]["user"] == "a"


def test_attribution_callable_used_when_headers_absent(ledger: Ledger, clock: Clock) -> None:
    vm = FakeVirtualmin(ledger, clock, attribution=lambda: ("task-in-process", 3))
    with reach("responses", vm) as base:
        call(base, "info")
        requests.get(
            base + API_PATH,
            params={"program": "info", "json": "1"},
            auth=AUTH,
            headers={TASK_HEADER: "from-header", ATTEMPT_HEADER: "1"},
            timeout=5,
        )
    assert [(e.task_id, e.attempt) for e in ledger.entries()] == [
        ("task-in-process", 3),
        ("from-header", 1),
    ]


def test_malformed_requests_get_failure_envelopes_not_500(
    transport: str, ledger: Ledger, clock: Clock
) -> None:
    vm = FakeVirtualmin(ledger, clock, max_body_bytes=1024)
    with reach(transport, vm) as base:
        wrong_method = requests.put(base + API_PATH + "?program=info&json=1", auth=AUTH, timeout=5)
        wrong_path = requests.get(base + "/nope.cgi?program=info&json=1", auth=AUTH, timeout=5)
        no_program = requests.get(base + API_PATH + "?json=1", auth=AUTH, timeout=5)
        too_big = requests.post(
            base + API_PATH,
            data={"program": "info", "json": "1", "x": "y" * 5000},
            auth=AUTH,
            timeout=5,
        )
        missing_domain = call(base, "delete-domain")
    assert wrong_method.status_code == 405
    assert wrong_path.status_code == 404
    assert no_program.status_code == 200 and no_program.json()["error"] == "No program specified"
    assert too_big.status_code == 413
    assert missing_domain.json()["error"].startswith("Missing required parameter : domain")
    for resp in (wrong_method, wrong_path, no_program, too_big, missing_domain):
        body = resp.json()
        assert body["status"] == "failure"
        assert "Traceback" not in resp.text
    assert all(e.status < 500 for e in ledger.entries())


def test_plain_text_without_json_flag(ledger: Ledger, clock: Clock) -> None:
    vm = FakeVirtualmin(ledger, clock)
    with reach("responses", vm) as base:
        resp = requests.get(
            base + API_PATH,
            params={"program": "delete-domain", "domain": "x.example.com"},
            auth=AUTH,
            timeout=5,
        )
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.text == "Virtual server x.example.com does not exist"


def _faulty(ledger: Ledger, clock: Clock, rule: dict[str, Any]) -> FakeVirtualmin:
    plan = FaultPlan.from_dict({"rules": [rule]})
    return FakeVirtualmin(ledger, clock, FaultInjector(plan, seed=1, origin=ORIGIN))


def test_lost_response_applies_effect_then_times_out(
    transport: str, ledger: Ledger, clock: Clock
) -> None:
    vm = _faulty(
        ledger, clock, {"type": "lost_response", "operation": "create-domain", "max_count": 1}
    )
    with reach(transport, vm) as base:
        with pytest.raises(requests.exceptions.ReadTimeout):
            create(base, "a.example.com", "a", timeout=0.1)
        retry = create(base, "a.example.com", "a")
    assert retry.json()["error"] == "Virtual server a.example.com already exists"
    first, second = ledger.entries()
    assert (first.effect, first.fault, first.status) == ("domain.created", "lost_response", 0)
    assert first.detail["applied_status"] == 200
    assert (second.effect, second.fault) == (None, None)


@pytest.mark.parametrize(
    ("kind", "exc"),
    [
        ("connection_refused", requests.exceptions.ConnectionError),
        ("read_timeout", requests.exceptions.ReadTimeout),
    ],
)
def test_outages_without_response_apply_nothing(
    transport: str, ledger: Ledger, clock: Clock, kind: str, exc: type[Exception]
) -> None:
    vm = _faulty(ledger, clock, {"type": "outage", "mode": kind, "start": "0s", "end": "1h"})
    with reach(transport, vm) as base:
        with pytest.raises(exc):
            create(base, "a.example.com", "a", timeout=0.1)
        clock.advance(hours=1)  # the window is over
        assert create(base, "a.example.com", "a").json()["status"] == "success"
    assert [e.fault for e in ledger.entries()] == [kind, None]
    assert [e.effect for e in ledger.entries()] == [None, "domain.created"]


def test_503_and_rate_limit_and_error_faults(transport: str, ledger: Ledger, clock: Clock) -> None:
    plan = FaultPlan.from_dict(
        {
            "rules": [
                {"type": "outage", "mode": "503", "operation": "info", "max_count": 1},
                {"type": "rate_limit", "operation": "info", "retry_after": 30, "max_count": 1},
                {
                    "type": "error",
                    "status": 200,
                    "operation": "info",
                    "max_count": 1,
                    "message": "Too many requests, please try again later",
                },
                {"type": "latency", "ms": 250, "operation": "info"},
            ]
        }
    )
    vm = FakeVirtualmin(ledger, clock, FaultInjector(plan, seed=3))
    with reach(transport, vm) as base:
        r503, r429, r200fail, ok = (call(base, "info") for _ in range(4))
    assert r503.status_code == 503 and r503.json()["status"] == "failure"
    assert r429.status_code == 429 and r429.headers["Retry-After"] == "30"
    assert r429.json()["error"] == "Too many requests, please try again later"
    assert r200fail.status_code == 200
    assert r200fail.json() == {
        "command": "info",
        "status": "failure",
        "error": "Too many requests, please try again later",
    }
    assert ok.json()["status"] == "success"
    assert [e.fault for e in ledger.entries()] == ["503", "rate_limit", "error", "latency"]
    assert all(e.detail["latency_ms"] == 250 for e in ledger.entries())


def test_concurrent_creates_over_real_http_make_one_domain(ledger: Ledger, clock: Clock) -> None:
    """werkzeug serves requests on threads; check-then-act must still be atomic."""
    from concurrent.futures import ThreadPoolExecutor

    vm = FakeVirtualmin(ledger, clock)
    with reach("werkzeug", vm) as base, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: create(base).json()["status"], range(16)))
    assert sorted(results).count("success") == 1
    assert len(ledger.effects(effect="domain.created")) == 1
    assert len(ledger) == 16


def test_a_bug_inside_the_fake_is_an_envelope_not_a_traceback(
    transport: str, ledger: Ledger, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    vm = FakeVirtualmin(ledger, clock)

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(vm, "_dispatch", broken)
    with reach(transport, vm) as base:
        resp = call(base, "info")
    assert resp.status_code == 500
    assert resp.json() == {"command": "info", "status": "failure", "error": "Internal error"}
    assert ledger.entries()[0].detail["exception"] == "RuntimeError"


def test_real_latency_on_the_werkzeug_transport(ledger: Ledger, clock: Clock) -> None:
    from harness.fakes.transport import serve

    plan = FaultPlan.from_dict({"rules": [{"type": "latency", "ms": 20}]})
    vm = FakeVirtualmin(ledger, clock, FaultInjector(plan, seed=0))
    with serve(vm, real_latency=True) as served:
        resp = call(served.url, "info")
    assert resp.json()["status"] == "success"
    assert ledger.entries()[0].detail["latency_ms"] == 20
    assert ledger.entries()[0].fault == "latency"


def test_https_transport_with_a_self_signed_certificate(
    ledger: Ledger, clock: Clock, tmp_path: Path
) -> None:
    """PRAHO's gateway insists on HTTPS; ``serve`` can speak it (cert made with openssl)."""
    from harness.fakes.transport import serve

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    vm = _faulty(
        ledger, clock, {"type": "lost_response", "operation": "create-domain", "max_count": 1}
    )
    with serve(vm, ssl_context=(str(cert), str(key)), hold_seconds=0.3) as served:
        assert served.url.startswith("https://")
        info = requests.get(
            served.url + API_PATH,
            params={"program": "info", "json": "1"},
            auth=AUTH,
            verify=str(cert),
            timeout=5,
        )
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(
                served.url + API_PATH,
                params={
                    "program": "create-domain",
                    "json": "1",
                    "domain": "a.example.com",
                    "user": "a",
                    "pass": "p",
                },
                auth=AUTH,
                verify=str(cert),
                timeout=0.1,
            )
    assert info.json()["status"] == "success"
    assert [e.effect for e in ledger.effects()] == ["domain.created"]
