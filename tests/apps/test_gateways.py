"""Gateway classification: failure envelopes, HTTP statuses and real-socket transport errors."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from apps.common.retriability import GatewayError, Retriability
from apps.domains.gateway import RegistrarGateway
from apps.provisioning.gateway import VirtualminGateway
from tests.apps.conftest import VM_PASSWORD, make_registrar, make_virtualmin

pytestmark = pytest.mark.django_db


def _error(call: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(
    ("envelope", "expected"),
    [
        ({"status": "failure", "error": "boom", "error_code": 429}, Retriability.RETRIABLE),
        # A 5xx code is a failure while working (as an HTTP 5xx): it may have been applied.
        ({"status": "failure", "error": "boom", "code": 503}, Retriability.UNKNOWN),
        ({"status": "failure", "error": "Virtual server overload.ro already exists"},
         Retriability.NOT_RETRIABLE),
        ({"status": "failure", "error": "boom", "error_code": 409}, Retriability.NOT_RETRIABLE),
        ({"status": "failure", "error": "Virtual server x already exists"},
         Retriability.NOT_RETRIABLE),
        ({"status": "failure", "error": "Server busy, try again"}, Retriability.RETRIABLE),
        ({"status": "failure", "error": "Something strange"}, Retriability.UNKNOWN),
        ({"success": False, "error": "quota exceeded for x"}, Retriability.NOT_RETRIABLE),
    ],
)  # fmt: skip
def test_failure_envelopes_of_a_mutation(rsps, ledger, server, envelope, expected):
    plan = {"rules": [{"type": "error", "status": 200, "envelope": envelope}]}
    make_virtualmin(rsps, ledger, plan)
    err = _error(lambda: VirtualminGateway(server).create_domain("a.ro", "a", "pw-x", "Default"))
    assert err.retriability == expected


@pytest.mark.parametrize(
    ("status", "mutation", "read"),
    [
        (401, Retriability.NOT_RETRIABLE, Retriability.NOT_RETRIABLE),
        (403, Retriability.NOT_RETRIABLE, Retriability.NOT_RETRIABLE),
        (404, Retriability.NOT_RETRIABLE, Retriability.NOT_RETRIABLE),
        (429, Retriability.RETRIABLE, Retriability.RETRIABLE),
        (500, Retriability.UNKNOWN, Retriability.RETRIABLE),
        (503, Retriability.UNKNOWN, Retriability.RETRIABLE),
    ],
)
def test_http_statuses(rsps, ledger, server, status, mutation, read):
    make_virtualmin(rsps, ledger, {"rules": [{"type": "error", "status": status}]})
    gateway = VirtualminGateway(server)
    assert _error(lambda: gateway.disable_domain("a.ro")).retriability == mutation
    assert _error(lambda: gateway.get_domain("a.ro")).retriability == read


def test_real_socket_read_timeout_and_refused_connection(ledger, server, settings):
    from django.utils import timezone

    from harness.fakes.faults import FaultInjector, FaultPlan
    from harness.fakes.transport import serve
    from harness.fakes.virtualmin import FakeVirtualmin

    plan = FaultPlan.from_dict(
        {"rules": [{"type": "outage", "mode": "read_timeout", "operation": "create-domain"}]}
    )
    fake = FakeVirtualmin(ledger, timezone.now, FaultInjector(plan, seed=1), password=VM_PASSWORD)
    settings.VIRTUALMIN_READ_TIMEOUT = 0.3  # the fake holds the socket for 1 s
    with serve(fake, hold_seconds=1.0) as served:
        server.hostname, server.api_port = "127.0.0.1", served.port
        gateway = VirtualminGateway(server)
        timeout = _error(lambda: gateway.create_domain("a.ro", "usera", "pw-x", "Default Settings"))
        assert timeout.retriability == Retriability.UNKNOWN and "ReadTimeout" in timeout.message
        assert "pw-x" not in timeout.message
        assert gateway.get_domain("a.ro") is None  # a read still answers: nothing was created
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    server.api_port = closed_port
    refused = _error(lambda: VirtualminGateway(server).delete_domain("a.ro"))
    assert refused.retriability == Retriability.UNKNOWN and "ConnectionError" in refused.message
    assert _error(lambda: VirtualminGateway(server).info()).retriability == Retriability.RETRIABLE


@pytest.mark.parametrize(
    ("status", "renew", "read"),
    [
        (400, Retriability.NOT_RETRIABLE, Retriability.NOT_RETRIABLE),
        (409, Retriability.NOT_RETRIABLE, Retriability.NOT_RETRIABLE),
        (422, Retriability.NOT_RETRIABLE, Retriability.NOT_RETRIABLE),
        (429, Retriability.RETRIABLE, Retriability.RETRIABLE),
        (500, Retriability.UNKNOWN, Retriability.RETRIABLE),
    ],
)
def test_registrar_statuses(rsps, ledger, status, renew, read):
    make_registrar(rsps, ledger, {"rules": [{"type": "error", "status": status}]})
    gateway = RegistrarGateway()
    assert _error(lambda: gateway.renew("a.ro", 1)).retriability == renew
    assert _error(lambda: gateway.expiry("a.ro")).retriability == read


def test_registrar_wrong_token_is_not_retriable(rsps, ledger, settings):
    make_registrar(rsps, ledger)
    settings.REGISTRAR_API_TOKEN = "wrong-token-value"
    err = _error(lambda: RegistrarGateway().renew("a.ro", 1))
    assert err.retriability == Retriability.NOT_RETRIABLE and err.status == 401
