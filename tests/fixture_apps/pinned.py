"""Tasks that reach a fake the way SSRF-guarded code does: resolve, check, pin, Host header.

Raw-socket clients (urllib, as PRAHO's ``safe_urlopen``): over plain HTTP the connection to
the pinned address is diverted to the fake; over TLS it is refused with a finding. A requests
client that pins in its own adapter and sends a ``PreparedRequest`` with ``Session.send`` (as
PRAHO's ``safe_request``) reaches the in-process mount, over TLS too.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import urllib.error
import urllib.request
from typing import Any

import requests
from django_q.tasks import async_task
from requests.adapters import HTTPAdapter

from tests.fixture_apps.fakes import TOKEN

HERE = "tests.fixture_apps.pinned"
HOST = "api.tax.example"


def _pinned(scheme: str) -> str:
    port = 443 if scheme == "https" else 80
    address = socket.getaddrinfo(HOST, port, type=socket.SOCK_STREAM)[0][4][0]
    if not ipaddress.ip_address(address).is_global:
        raise PermissionError(f"{HOST} resolves to {address}, which is not public")
    return address


def file_invoice(n: int, scheme: str = "http") -> dict[str, Any]:
    """File invoice ``INV-n`` through urllib at the pinned address."""
    address = _pinned(scheme)
    request = urllib.request.Request(
        f"{scheme}://{address}/api/v1/invoices/INV-{n}",
        data=json.dumps({"total": 100 * n}).encode(),
        method="POST",
        headers={
            "Host": HOST,
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return {"status": response.status, **json.load(response)}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "body": json.loads(exc.read() or b"null")}
    except OSError as exc:
        return {"error": type(exc).__name__}


class _PinnedAdapter(HTTPAdapter):
    """Sends to the address it was given, the name in the Host header (PRAHO's adapter)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        request.url = (request.url or "").replace(HOST, self.address, 1)
        request.headers.setdefault("Host", HOST)
        return super().send(request, **kwargs)


def file_invoice_prepared(n: int) -> dict[str, Any]:
    """File invoice ``INV-n`` over https: a prepared request through ``Session.send``."""
    session = requests.Session()
    session.mount("https://", _PinnedAdapter(_pinned("https")))
    prepared = session.prepare_request(
        requests.Request(
            "POST",
            f"https://{HOST}/api/v1/invoices/INV-{n}",
            json={"total": 100 * n},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    )
    try:
        response = session.send(prepared, allow_redirects=False, timeout=(2, 5))
    finally:
        session.close()
    return {"status": response.status_code, **response.json()}


def enqueue_file_invoice_prepared(n: int) -> str:
    return async_task(f"{HERE}.file_invoice_prepared", n)


def enqueue_file_invoice(n: int) -> str:
    return async_task(f"{HERE}.file_invoice", n)


def enqueue_file_invoice_tls(n: int) -> str:
    return async_task(f"{HERE}.file_invoice", n, "https")
