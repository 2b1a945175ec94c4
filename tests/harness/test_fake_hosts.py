"""The fakes' hosts under the network guard: owned addresses, pinned clients, honest refusals.

No Django here: the guard and the address map are exercised directly, with real sockets,
urllib and requests (``responses`` for the in-process path, as a replay mounts it).
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses

from harness.fakes import FaultInjector, FaultPlan, Ledger, mount_responses
from harness.sim.fakehosts import BLOCK, FakeHosts, preferred_address
from harness.sim.network import NetworkGuard
from harness.sim.patches import current_attempt
from tests.fakes.support import Clock
from tests.fixture_apps.fakes import TOKEN, FakeTaxAuthority

AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
ORIGINALS = {
    name: getattr(socket, name)
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr")
}


class Guarded:
    """A guard installed around a test, with its findings and one ledger."""

    def __init__(self) -> None:
        self.findings: list[dict[str, Any]] = []
        self.ledger = Ledger(Clock())
        self.guard = NetworkGuard(self._found, lambda task: f"func-of-{task}")

    def _found(self, finding: str, **data: Any) -> None:
        self.findings.append({"finding": finding, **data})

    def fake(self, url: str, **options: Any) -> tuple[FakeTaxAuthority, str]:
        fake = FakeTaxAuthority(self.ledger, Clock(), **options)
        return fake, self.guard.own(url, fake)


@pytest.fixture
def guarded() -> Iterator[Guarded]:
    g = Guarded()
    g.guard.install()
    try:
        yield g
    finally:
        g.guard.uninstall()


def _file(url: str, host: str | None = None, timeout: float = 5) -> dict[str, Any]:
    headers = {**AUTH, **({"Host": host} if host else {})}
    request = urllib.request.Request(url, data=b'{"total": 3}', method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def test_the_block_passes_every_ssrf_check_on_this_python():
    for address in (BLOCK[1], BLOCK[128], BLOCK[254]):
        assert address.is_global and not address.is_private and not address.is_reserved
        assert not (address.is_loopback or address.is_link_local or address.is_multicast)


def test_an_address_is_a_function_of_the_name_and_collisions_move_on():
    hosts = FakeHosts()
    first = hosts.add("https://api.tax.example", object())
    assert first == str(BLOCK[preferred_address("api.tax.example")])
    assert FakeHosts().add("https://API.tax.example:8443/v1", object()) == first
    assert hosts.add("https://api.tax.example/other", object()) == first  # one host, one address
    names = (f"h{i}.example" for i in itertools.count())
    seen: dict[int, str] = {}
    for name in names:  # two names that hash to the same slot
        slot = preferred_address(name)
        if slot in seen:
            break
        seen[slot] = name
    a, b = FakeHosts(), FakeHosts()
    assert a.add(f"http://{seen[slot]}", 1) == b.add(f"http://{seen[slot]}", 1)
    assert a.add(f"http://{name}", 2) == str(BLOCK[slot % 254 + 1]) == b.add(f"http://{name}", 2)


def test_a_fakes_host_resolves_to_its_address_only_while_the_guard_is_installed():
    g = Guarded()
    g.guard.install()
    _, address = g.fake("https://api.tax.example")
    try:
        infos = socket.getaddrinfo("api.tax.example", 443, 0, socket.SOCK_STREAM)
        assert infos == [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 443))]
        canon = socket.getaddrinfo("api.tax.example", "https", flags=socket.AI_CANONNAME)
        assert canon[0][3] == "api.tax.example" and {i[4] for i in canon} == {(address, 443)}
        assert socket.gethostbyname("API.tax.example.") == address
        assert socket.gethostbyname_ex("api.tax.example") == ("api.tax.example", [], [address])
        assert socket.gethostbyaddr(address) == ("api.tax.example", [], [address])
        with pytest.raises(socket.gaierror, match="has no IPv6 address"):
            socket.getaddrinfo("api.tax.example", 443, socket.AF_INET6)
        assert g.findings == []  # answered, not refused
    finally:
        g.guard.uninstall()
    assert {name: getattr(socket, name) for name in ORIGINALS} == ORIGINALS
    assert g.guard.hosts.named("api.tax.example") is None


def test_other_names_and_addresses_are_still_refused_and_recorded(guarded):
    guarded.fake("https://api.tax.example")
    with pytest.raises(socket.gaierror):
        socket.gethostbyname("api.elsewhere.example")
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen("http://203.0.114.9/", timeout=5)
    assert [f["destination"] for f in guarded.findings] == [
        "api.elsewhere.example",
        "203.0.114.9:80",
    ]
    assert guarded.findings[1]["client"] == "urllib.request"


def test_a_raw_socket_client_that_pins_reaches_the_fake_attributed_to_its_task(guarded):
    fake, address = guarded.fake("http://api.tax.example")
    token = current_attempt.set(("task-1", 2))
    try:
        pinned = _file(f"http://{address}/api/v1/invoices/P1", host="api.tax.example")
        by_name = _file("http://api.tax.example:80/api/v1/invoices/P2")
    finally:
        current_attempt.reset(token)
    outside = _file(f"http://{address}/api/v1/invoices/P3", host="api.tax.example")
    assert pinned["number"] == "P1" and by_name["number"] == "P2" and outside["number"] == "P3"
    assert fake.filed["P1"]["host"] == "api.tax.example"  # the app saw the name, not the address
    assert [(e.business_key, e.task_id, e.attempt) for e in guarded.ledger.entries()] == [
        ("P1", "task-1", 2),
        ("P2", "task-1", 2),
        ("P3", None, None),
    ]
    assert {e.detail["address"] for e in guarded.ledger.entries()} == {address}
    assert guarded.findings == []


def test_an_asyncio_client_is_attributed_too(guarded):
    """A non-blocking connect (asyncio's) is still under way when it returns."""
    _, address = guarded.fake("http://api.tax.example")

    async def read() -> bytes:
        reader, writer = await asyncio.open_connection("api.tax.example", 80)
        writer.write(
            b"GET /api/v1/invoices/A1 HTTP/1.1\r\nHost: api.tax.example\r\n"
            + f"Authorization: {AUTH['Authorization']}\r\nConnection: close\r\n\r\n".encode()
        )
        data = await reader.read()
        writer.close()
        return data

    token = current_attempt.set(("task-async", 1))
    try:
        answer = asyncio.run(read())
    finally:
        current_attempt.reset(token)
    assert answer.startswith(b"HTTP/1.1 404") and b"no invoice A1" in answer
    (entry,) = guarded.ledger.entries()
    assert (entry.task_id, entry.attempt, entry.detail["address"]) == ("task-async", 1, address)


def test_a_fault_over_a_raw_socket_drops_the_connection_at_once(guarded):
    plan = FaultPlan.from_dict({"rules": [{"type": "lost_response"}]}, operations={"service": None})
    fake, address = guarded.fake("http://api.tax.example", faults=None)
    fake.faults = FaultInjector(plan)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _file(f"http://{address}/api/v1/invoices/L1", host="api.tax.example", timeout=30)
    (entry,) = guarded.ledger.entries()
    assert (entry.status, entry.fault, entry.effect) == (0, "lost_response", "invoice.filed")


def test_tls_or_another_port_on_a_fakes_address_is_refused_saying_why(guarded):
    _, address = guarded.fake("http://api.tax.example:8080")
    assert _file(f"http://{address}:8080/api/v1/invoices/T0", host="api.tax.example")
    with pytest.raises(urllib.error.URLError):
        _file(f"https://{address}/api/v1/invoices/T1", host="api.tax.example")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, 25), timeout=5)
    tls, smtp = guarded.findings
    assert tls["destination"] == f"api.tax.example ({address}):443"
    assert "TLS over a raw socket to a fake" in tls["reason"] and "requests" in tls["reason"]
    assert smtp["reason"] == "no fake listens on port 25"


def test_requests_to_the_pinned_address_reach_the_in_process_mount(guarded):
    fake, address = guarded.fake("https://api.tax.example")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount_responses(rsps, "https://api.tax.example", fake, addresses=[address])
        url = "/api/v1/invoices/R{}"
        explicit = requests.post(
            f"https://{address}:443{url.format(1)}",
            json={"total": 1},
            headers={**AUTH, "Host": "api.tax.example"},
        )
        bare = requests.post(f"https://{address}{url.format(2)}", json={"total": 2}, headers=AUTH)
        with pytest.raises(requests.ConnectionError):  # no fake at this port: responses refuses
            requests.post(f"https://{address}:8443{url.format(3)}", json={}, headers=AUTH)
    assert explicit.status_code == bare.status_code == 200
    assert fake.filed["R1"]["host"] == fake.filed["R2"]["host"] == "api.tax.example"
    assert [e.detail["address"] for e in guarded.ledger.entries()] == [address, address]


def test_a_mount_at_a_path_and_port_matches_the_address_only_there(guarded):
    fake, address = guarded.fake("http://api.tax.example:8080/tax")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount_responses(rsps, "http://api.tax.example:8080/tax", fake, addresses=[address])
        bad = requests.get(f"http://{address}:8080/tax/api/v1/invoices/X", headers=AUTH)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{address}/tax/api/v1/invoices/X", headers=AUTH)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{address}:8080/other", headers=AUTH)
    assert bad.status_code == 404  # reached the fake (a path it does not serve)
