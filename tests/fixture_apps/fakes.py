"""A project's own fake, as a test project would write one: a tax authority's invoice API.

Mounted by dotted path (``app = "tests.fixture_apps.fakes:FakeTaxAuthority"``); reached by the
pinned-DNS clients of :mod:`tests.fixture_apps.pinned`.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from harness.fakes import FakeService, Reply, route

TOKEN = "tok-dqharness-tax-0001"


class FakeTaxAuthority(FakeService):
    """``POST /api/v1/invoices/{number}`` files an invoice (once per number);
    ``GET`` the same path reads its state."""

    credentials = ("token",)

    def __init__(self, *args: Any, token: str = TOKEN, vat_rate: int = 19, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(vat_rate, bool) or not isinstance(vat_rate, int) or not 0 <= vat_rate <= 100:
            raise ValueError(f"vat_rate must be a whole percentage, got {vat_rate!r}")
        self.token = token
        self.vat_rate = vat_rate
        self.filed: dict[str, dict[str, Any]] = {}

    def authorize(self, request: Request) -> str | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return "invalid token"
        return None

    @route(
        "POST",
        "/api/v1/invoices/{number}",
        operation="invoice.file",
        effect="invoice.filed",
        key="path:number",
        once=True,
    )
    def file(self, request: Request, number: str) -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or "total" not in body:
            return self.error(400, "a JSON body with a total is required")
        self.filed[number] = {**body, "host": request.host}
        return {"index": self.new_id("idx"), "number": number, "vat_rate": self.vat_rate}

    @route("GET", "/api/v1/invoices/{number}", operation="invoice.status")
    def status(self, request: Request, number: str) -> Any:
        if number not in self.filed:
            return self.error(404, f"no invoice {number}")
        return {"number": number, "state": "accepted"}

    @route("PUT", "/api/v1/invoices/{number}", operation="invoice.amend", effect="invoice.amended")
    def amend(self, request: Request, number: str) -> Any:
        if number not in self.filed:
            return Reply(409, {"error": f"invoice {number} was never filed"})
        return self.reply(202, {"number": number}, effect="invoice.amended", Location=number)


class NotAFake:
    """A class that is no fake (a scenario naming it is refused)."""
