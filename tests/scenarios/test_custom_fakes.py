"""A project's own fake in a replay: declared by dotted path, reached by pinned-DNS clients,
faulted by name, judged by duplicate-effects, its credentials kept out of the record."""

from __future__ import annotations

import datetime as dt

import pytest

from harness.scenario import FakeSpec, LoadSpec, Scenario, ScenarioError, parse
from harness.scenario.resolve import check_fake, fake_class
from tests.fixture_apps.fakes import TOKEN, FakeTaxAuthority

pytestmark = pytest.mark.dbpath

HERE = "tests.fixture_apps.pinned"
APP = "tests.fixture_apps.fakes:FakeTaxAuthority"
START = dt.datetime(2026, 4, 2, 9, 0, tzinfo=dt.UTC)


def tax(url: str = "http://api.tax.example", **fields) -> FakeSpec:
    return FakeSpec(name="tax", url=url, app=APP, options={"token": TOKEN}, **fields)


def load(call: str, minute: int, args: list) -> LoadSpec:
    return LoadSpec(name=call, call=f"{HERE}.{call}", args=args, at=[dt.timedelta(minutes=minute)])


def scenario(name: str, fakes: list[FakeSpec], *loads: LoadSpec, **fields) -> Scenario:
    return Scenario(
        name=name,
        start=START,
        duration=dt.timedelta(minutes=20),
        seed=2,
        fakes=fakes,
        loads=list(loads),
        **fields,
    )


def test_a_pinned_raw_socket_client_reaches_the_fake_declared_by_dotted_path(run_scenario):
    result = run_scenario(
        scenario(
            "pinned-urllib",
            [tax(faults=[{"type": "error", "status": 503, "fake": "tax", "max_count": 1}])],
            load("enqueue_file_invoice", 1, args=[1]),
            load("enqueue_file_invoice", 2, args=[2]),
        )
    )
    calls = [e for e in result.ledger.entries() if e.fake == "tax"]
    assert [(e.business_key, e.status, e.fault, e.effect) for e in calls] == [
        ("INV-1", 503, "error", None),
        ("INV-2", 200, None, "invoice.filed"),
    ]
    ran = {e.data["task"] for e in result.timeline.of("task.started") if "pinned" in e.data["func"]}
    assert {e.task_id for e in calls} == ran and {e.attempt for e in calls} == {1}
    assert calls[1].detail["address"].startswith("192.88.99.")
    assert result.verdict("driver-findings").ok, result.verdict("driver-findings").message
    http = result.timeline.of("http.call")
    assert [(e.data["fake"], e.data["key"]) for e in http] == [("tax", "INV-1"), ("tax", "INV-2")]
    assert "fakes.tax.token" in result.record.snapshot.secrets


def test_a_prepared_request_sent_with_session_send_is_attributed_to_its_task(run_scenario):
    result = run_scenario(
        scenario(
            "pinned-session-send",
            [tax("https://api.tax.example")],
            load("enqueue_file_invoice_prepared", 1, args=[1]),
            load("enqueue_file_invoice_prepared", 2, args=[2]),
        )
    )
    calls = [e for e in result.ledger.entries() if e.fake == "tax"]
    assert [(e.business_key, e.status, e.effect) for e in calls] == [
        ("INV-1", 200, "invoice.filed"),
        ("INV-2", 200, "invoice.filed"),
    ]
    started = [e.data for e in result.timeline.of("task.started") if "prepared" in e.data["func"]]
    assert [(e.task_id, e.attempt) for e in calls] == [(s["task"], 1) for s in started]
    assert all(e.detail["address"].startswith("192.88.99.") for e in calls)
    http = result.timeline.of("http.call")
    assert [(e.data["key"], e.data.get("task")) for e in http] == [
        (e.business_key, e.task_id) for e in calls
    ]
    assert result.verdict("driver-findings").ok, result.verdict("driver-findings").message


def test_tls_over_a_raw_socket_is_a_finding_that_says_what_to_do(run_scenario):
    result = run_scenario(
        scenario(
            "pinned-tls",
            [tax("https://api.tax.example")],
            load("enqueue_file_invoice_tls", 1, args=[1]),
        )
    )
    verdict = result.verdict("driver-findings")
    assert not verdict.ok
    assert "destination=api.tax.example (192.88.99." in verdict.message
    assert "TLS over a raw socket to a fake" in verdict.message
    assert not [e for e in result.ledger.entries() if e.fake == "tax"]


def test_duplicate_effects_judges_an_effect_the_fake_declares_once(run_scenario):
    once = scenario(
        "filed-once",
        [tax()],
        load("enqueue_file_invoice", 1, args=[1]),
        load("enqueue_file_invoice", 2, args=[2]),
    )
    assert run_scenario(once).verdict("duplicate-effects").ok
    twice = scenario(
        "filed-twice",
        [tax()],
        load("enqueue_file_invoice", 1, args=[7]),
        load("enqueue_file_invoice", 3, args=[7]),
    )
    verdict = run_scenario(twice).verdict("duplicate-effects")
    assert not verdict.ok
    assert "tax invoice.filed for 'INV-7' happened 2×" in verdict.message
    twice.expect = {"duplicate-effects": {"once": ["charge.succeeded"]}}  # named: exactly these
    assert run_scenario(twice).verdict("duplicate-effects").ok


def test_a_scenario_names_its_own_fake_by_dotted_path():
    doc = {
        "start": "2026-04-02T09:00:00Z",
        "duration": "1h",
        "fakes": {
            "tax": {
                "app": APP,
                "url": "https://api.tax.example",
                "options": {"vat_rate": 9},
                "faults": [{"type": "outage", "operation": "invoice.file"}],
            }
        },
    }
    (spec,) = parse(doc, "<t>").fakes
    assert (spec.name, spec.app, spec.faults[0]["fake"]) == ("tax", APP, "tax")
    assert check_fake(spec, fake_class(spec, "<t>"), "<t>") is FakeTaxAuthority
    builtin = FakeSpec(name="payments", url="https://x", app="harness.fakes:FakePayments")
    assert fake_class(builtin, "<t>").__name__ == "FakePayments"
    with pytest.raises(ScenarioError, match=r"<t>: fakes\.mail: unknown fake; .* as app"):
        fake_class(FakeSpec(name="mail", url="https://x"), "<t>")
    with pytest.raises(ScenarioError, match=r"fakes\.tax: unknown fake; .* app = "):
        parse({**doc, "fakes": {"tax": {"url": "https://api.tax.example"}}}, "<t>")
    with pytest.raises(ScenarioError, match=r"fakes\.tax\.app: .*Fake\.Tax.* is not a dotted path"):
        parse({**doc, "fakes": {"tax": {"app": "Fake.Tax.", "url": "https://x"}}}, "<t>")
