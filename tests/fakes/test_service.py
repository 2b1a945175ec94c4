"""A project's own fake (FakeService + route): routes, business keys, errors, faults, ledger."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from harness.fakes import FakeService, FaultInjector, FaultPlan, Ledger, route
from harness.fakes.base import option_names
from tests.fakes.support import reach
from tests.fixture_apps.fakes import TOKEN, FakeTaxAuthority

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_a_declared_route_answers_records_its_effect_and_business_key(transport, ledger, clock):
    fake = FakeTaxAuthority(ledger, clock, seed=3)
    with reach(transport, fake) as base:
        ok = requests.post(f"{base}/api/v1/invoices/INV-7", json={"total": 5}, headers=AUTH)
        read = requests.get(f"{base}/api/v1/invoices/INV-7", headers=AUTH)
    assert ok.status_code == 200 and ok.json()["number"] == "INV-7"
    assert ok.json()["index"].startswith("idx_") and read.json()["state"] == "accepted"
    filed, status = ledger.entries()
    assert (filed.operation, filed.business_key, filed.effect) == (
        "invoice.file",
        "INV-7",
        "invoice.filed",
    )
    assert filed.detail == {"once": True, "params": {"number": "INV-7"}} and filed.fake == "service"
    assert (status.operation, status.effect, status.status) == ("invoice.status", None, 200)
    assert FakeTaxAuthority.operations == {"invoice.file", "invoice.status", "invoice.amend"}
    assert FakeTaxAuthority.once_effects == {"invoice.filed"}


def test_ids_depend_on_the_seed_and_the_count_only(ledger, clock):
    a, b, c = (FakeTaxAuthority(ledger, clock, seed=s) for s in (1, 1, 2))
    assert [a.new_id("idx"), a.new_id("idx")] == [b.new_id("idx"), b.new_id("idx")]
    assert c.new_id("idx") != FakeTaxAuthority(ledger, clock, seed=1).new_id("idx")


def test_refusals_have_the_default_error_shape_and_no_effect(transport, ledger, clock):
    fake = FakeTaxAuthority(ledger, clock)
    with reach(transport, fake) as base:
        unauthorized = requests.post(f"{base}/api/v1/invoices/A", json={"total": 1})
        invalid = requests.post(f"{base}/api/v1/invoices/A", data="x", headers=AUTH)
        missing = requests.get(f"{base}/api/v1/nothing", headers=AUTH)
        wrong_method = requests.delete(f"{base}/api/v1/invoices/A", headers=AUTH)
        conflict = requests.put(f"{base}/api/v1/invoices/A", headers=AUTH)
    assert (unauthorized.status_code, unauthorized.json()) == (401, {"error": "invalid token"})
    assert invalid.status_code == 400 and "total" in invalid.json()["error"]
    assert missing.status_code == 404 and missing.json() == {
        "error": "Not found: GET /api/v1/nothing"
    }
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "GET, POST, PUT"
    assert conflict.status_code == 409
    assert [e.effect for e in ledger.entries()] == [None] * 5
    assert [e.operation for e in ledger.entries()] == [
        "invoice.file", "invoice.file", "invalid", "invalid", "invoice.amend",
    ]  # fmt: skip


def test_a_handler_reply_sets_its_own_status_effect_and_headers(ledger, clock):
    fake = FakeTaxAuthority(ledger, clock)
    with reach("responses", fake) as base:
        requests.post(f"{base}/api/v1/invoices/B", json={"total": 1}, headers=AUTH)
        amended = requests.put(f"{base}/api/v1/invoices/B", headers=AUTH)
    assert amended.status_code == 202 and amended.headers["Location"] == "B"
    assert ledger.entries()[-1].effect == "invoice.amended"
    assert "once" not in ledger.entries()[-1].detail


class _Keys(FakeService):
    @route("POST", "/q", operation="q", effect="q.done", key="query:id")
    def by_query(self, request: Any) -> Any:
        return {}

    @route("POST", "/h", operation="h", key="header:X-Order")
    def by_header(self, request: Any) -> Any:
        return {}

    @route("POST", "/j", operation="j", key="json:order.id")
    def by_json(self, request: Any) -> Any:
        return {}

    @route(
        "POST", "/f/{shop}", operation="f", key=lambda request, shop: f"{shop}/{request.form['n']}"
    )
    def by_callable(self, request: Any, shop: str) -> Any:
        return "queued"


def test_every_key_source(ledger, clock):
    with reach("responses", _Keys(ledger, clock)) as base:
        requests.post(f"{base}/q?id=Q1")
        requests.post(f"{base}/h", headers={"X-Order": "H1"})
        requests.post(f"{base}/j", json={"order": {"id": 7}})
        requests.post(f"{base}/j", json=["no", "order"])
        text = requests.post(f"{base}/f/acme", data={"n": "3"})
    assert [e.business_key for e in ledger.entries()] == ["Q1", "H1", "7", None, "acme/3"]
    assert text.text == "queued" and text.headers["Content-Type"].startswith("text/plain")


def test_a_subclass_inherits_and_overrides_routes(ledger, clock):
    class Amending(FakeTaxAuthority):
        @route("GET", "/api/v1/invoices/{number}", operation="invoice.peek")
        def peek(self, request: Any, number: str) -> Any:
            return {"peeked": number}

    assert Amending.operations == {"invoice.file", "invoice.peek", "invoice.amend"}
    with reach("responses", Amending(ledger, clock)) as base:
        assert requests.get(f"{base}/api/v1/invoices/Z", headers=AUTH).json() == {"peeked": "Z"}


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("FETCH", "/x"), {"operation": "x"}, "unknown HTTP method"),
        (("GET", "x"), {"operation": "x"}, "must start with '/'"),
        (("GET", "/x"), {"operation": ""}, "operation is required"),
        (("GET", "/x"), {"operation": "x", "key": "cookie:a"}, "is not one of path, form"),
        (("GET", "/x/{a}"), {"operation": "x", "key": "path:b"}, "names no path parameter"),
        (("GET", "/x"), {"operation": "x", "once": True}, "once=True needs an effect"),
    ],
)
def test_a_wrong_declaration_fails_when_the_class_is_written(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        route(*args, **kwargs)


def test_fault_rules_match_the_name_the_scenario_gives_the_fake(clock):
    ledger = Ledger(clock)
    plan = FaultPlan.from_dict(
        {"rules": [{"type": "outage", "fake": "tax", "operation": "invoice.file", "max_count": 1}]},
        operations={"tax": FakeTaxAuthority.operations},
    )
    fake = FakeTaxAuthority(ledger, clock, FaultInjector(plan, seed=1))
    fake.name = "tax"
    with reach("responses", fake) as base:
        down = requests.post(f"{base}/api/v1/invoices/C", json={"total": 1}, headers=AUTH)
        up = requests.post(f"{base}/api/v1/invoices/C", json={"total": 1}, headers=AUTH)
    assert (down.status_code, down.json()) == (503, {"error": "Service Unavailable"})
    assert up.status_code == 200
    assert [(e.fake, e.fault, e.effect) for e in ledger.entries()] == [
        ("tax", "503", None),
        ("tax", None, "invoice.filed"),
    ]


def test_a_lost_response_keeps_its_effect_in_the_ledger(clock):
    ledger = Ledger(clock)
    plan = FaultPlan.from_dict(
        {"rules": [{"type": "lost_response", "fake": "tax"}]}, operations={"tax": None}
    )
    fake = FakeTaxAuthority(ledger, clock, FaultInjector(plan))
    fake.name = "tax"
    with reach("responses", fake) as base, pytest.raises(requests.ReadTimeout):
        requests.post(f"{base}/api/v1/invoices/D", json={"total": 1}, headers=AUTH)
    (entry,) = ledger.entries()
    assert (entry.status, entry.effect, entry.detail["once"]) == (0, "invoice.filed", True)
    assert fake.filed["D"]["total"] == 1


def test_plans_know_the_operations_of_a_projects_fake():
    from harness.fakes import FaultPlanError

    known = {"tax": FakeTaxAuthority.operations}
    FaultPlan.from_dict(
        {"rules": [{"type": "error", "operation": "invoice.file"}]}, operations=known
    )
    with pytest.raises(
        FaultPlanError, match=r"rules\[0\]\.operation: unknown value 'invoice.burn'"
    ):
        FaultPlan.from_dict(
            {"rules": [{"type": "error", "fake": "tax", "operation": "invoice.burn"}]},
            operations=known,
        )
    with pytest.raises(FaultPlanError, match=r"rules\[0\]\.fake: unknown value 'tax'"):
        FaultPlan.from_dict({"rules": [{"type": "error", "fake": "tax"}]})
    # not known yet (the class imports later): any operation is accepted here
    FaultPlan.from_dict(
        {"rules": [{"type": "error", "fake": "tax", "operation": "x"}]}, operations={"tax": None}
    )


def test_options_are_the_keyword_only_constructor_parameters():
    assert option_names(FakeTaxAuthority) == ["token", "vat_rate"]
    assert "seed" in option_names(FakeService)
    assert "attribution" not in option_names(FakeService)


def test_the_documented_example_works(ledger, clock):
    """docs/fakes.md's "Your own fake" block, as written."""
    import base64
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "fakes.md").read_text()
    section = doc[doc.index("## Your own fake") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/fakes.md", "exec"), namespace)
    fake = namespace["FakeMailer"](ledger, clock, api_key="key-test")
    basic = "Basic " + base64.b64encode(b"api:key-test").decode()
    with reach("responses", fake, "https://api.mailer.example") as base:
        url = f"{base}/v3/mg.acme.example/messages"
        sent = requests.post(
            url, data={"to": "a@b.c", "v:charge": "9"}, headers={"Authorization": basic}
        )
        denied = requests.post(url, data={"to": "a@b.c"})
        unknown = requests.post(
            f"{base}/v3/other.example/messages", data={"to": "x"}, headers={"Authorization": basic}
        )
    assert sent.status_code == 200 and sent.json()["id"].endswith("@mg.acme.example>")
    assert (denied.status_code, denied.json()) == (401, {"message": "Forbidden"})
    assert unknown.json() == {"message": "Domain not found: other.example"}
    first = ledger.entries()[0]
    assert (first.business_key, first.effect, first.detail["once"]) == ("9", "message.sent", True)
    assert fake.messages == [{"id": sent.json()["id"], "to": ["a@b.c"]}]
