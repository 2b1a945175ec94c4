"""Tasks that reach a fake the way SSRF-guarded code does: resolve, check, pin, Host header.

Raw-socket clients (urllib, as PRAHO's ``safe_urlopen``): over plain HTTP the connection to
the pinned address is diverted to the fake; over TLS it is refused with a finding.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import urllib.error
import urllib.request
from typing import Any

from django_q.tasks import async_task

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


def enqueue_file_invoice(n: int) -> str:
    return async_task(f"{HERE}.file_invoice", n)


def enqueue_file_invoice_tls(n: int) -> str:
    return async_task(f"{HERE}.file_invoice", n, "https")
