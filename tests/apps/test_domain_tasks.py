"""Domain renewals against the fake registrar: the renewal intent is claimed before the call,
released when nothing happened, and KEPT on an unknown outcome so no term is renewed twice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from apps.common.retriability import RetryableTaskError
from apps.domains import tasks
from apps.domains.models import Domain, RenewalIntent
from tests.apps.conftest import make_registrar

pytestmark = pytest.mark.django_db


@pytest.fixture
def expiry() -> dt.datetime:
    return (timezone.now() + dt.timedelta(days=10)).replace(microsecond=0)


@pytest.fixture
def domain(customer: Any, expiry: dt.datetime) -> Domain:
    return Domain.objects.create(customer=customer, name="ana-shop.ro", expires_at=expiry)


def _renewals(ledger: Any) -> int:
    return len([e for e in ledger.effects() if e.operation.endswith("renew")])


def test_renewal_extends_the_domain_once(registrar, ledger, domain, expiry):
    registrar.add_domain("ana-shop.ro", expiry)

    result = tasks.renew_domain(domain.pk, 1)

    assert result["success"] is True and result["action"] == "renewed"
    domain.refresh_from_db()
    assert domain.expires_at.year == expiry.year + 1
    assert RenewalIntent.objects.get().status == RenewalIntent.Status.SUCCEEDED
    # The same term again (e.g. a redelivered message): no second renewal.
    domain.expires_at = expiry
    domain.save()
    assert tasks.renew_domain(domain.pk, 1)["action"] == "already_renewed"
    assert _renewals(ledger) == 1


def test_unknown_outcome_keeps_the_claim_and_reconciles_by_reading(rsps, ledger, domain, expiry):
    fake = make_registrar(
        rsps, ledger, {"rules": [{"type": "lost_response", "operation": "domain.renew"}]}
    )
    fake.add_domain("ana-shop.ro", expiry)

    first = tasks.renew_domain(domain.pk, 1)
    assert first["success"] is False and first["intent"] == "unknown"
    assert RenewalIntent.objects.get().status == RenewalIntent.Status.UNKNOWN

    # A later run must not renew again: it reads the registrar and finds the term moved.
    second = tasks.renew_domain(domain.pk, 1)
    assert second["action"] == "reconciled"
    assert _renewals(ledger) == 1
    assert fake.domains["ana-shop.ro"].expires_at.year == expiry.year + 1
    domain.refresh_from_db()
    assert domain.expires_at == fake.domains["ana-shop.ro"].expires_at


def test_unknown_that_did_not_apply_is_still_not_resent(rsps, ledger, domain, expiry):
    fake = make_registrar(
        rsps,
        ledger,
        {"rules": [{"type": "outage", "mode": "read_timeout", "operation": "domain.renew"}]},
    )
    fake.add_domain("ana-shop.ro", expiry)

    assert tasks.renew_domain(domain.pk, 1)["intent"] == "unknown"
    assert tasks.renew_domain(domain.pk, 1)["intent"] == "unknown"
    renew_calls = [e for e in ledger.entries() if e.operation == "domain.renew"]
    assert len(renew_calls) == 1  # a human (or the registrar's read) must resolve it


def test_rate_limit_releases_the_claim_and_raises(rsps, ledger, domain, expiry):
    fake = make_registrar(
        rsps,
        ledger,
        {"rules": [{"type": "rate_limit", "operation": "domain.renew", "max_count": 1}]},
    )
    fake.add_domain("ana-shop.ro", expiry)

    with pytest.raises(RetryableTaskError):
        tasks.renew_domain(domain.pk, 1)
    assert not RenewalIntent.objects.exists()
    assert tasks.renew_domain(domain.pk, 1)["action"] == "renewed"
    assert _renewals(ledger) == 1


def test_unknown_domain_at_registrar_is_not_retried(registrar, domain):
    result = tasks.renew_domain(domain.pk, 1)
    assert result["success"] is False and "404" in result["error"]
    assert not RenewalIntent.objects.exists()


def test_invalid_years_are_refused(registrar, ledger, domain):
    assert tasks.renew_domain(domain.pk, 0)["success"] is False
    assert tasks.renew_domain(domain.pk, 11)["success"] is False
    assert ledger.entries() == []


def test_expiration_check_expires_renews_and_warns(customer):
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    now = timezone.now()
    Domain.objects.create(customer=customer, name="old.ro", expires_at=now - dt.timedelta(days=1))
    Domain.objects.create(customer=customer, name="soon.ro", expires_at=now + dt.timedelta(days=5))
    Domain.objects.create(
        customer=customer,
        name="manual.ro",
        expires_at=now + dt.timedelta(days=5),
        auto_renew=False,
    )
    Domain.objects.create(customer=customer, name="far.ro", expires_at=now + dt.timedelta(days=90))

    result = tasks.check_domain_expirations()

    assert result == {"success": True, "expired": 1, "renewals": 2, "notices": 1}
    assert Domain.objects.get(name="old.ro").status == Domain.Status.EXPIRED
    funcs = sorted(SignedPackage.loads(r.payload)["func"] for r in OrmQ.objects.all())
    assert funcs == [
        "apps.customers.tasks.send_customer_notification",
        "apps.domains.tasks.renew_domain",
        "apps.domains.tasks.renew_domain",
    ]


@pytest.mark.django_db(transaction=True)
def test_check_and_renew_run_through_the_worker(registrar, ledger, domain, expiry):
    from tests.apps.conftest import run_queued

    registrar.add_domain("ana-shop.ro", expiry)
    tasks.check_domain_expirations_async()
    done = run_queued()
    assert [d["func"] for d in done] == [
        "apps.domains.tasks.check_domain_expirations",
        "apps.domains.tasks.renew_domain",
    ]
    assert all(d["success"] for d in done) and done[1]["result"]["action"] == "renewed"
    assert _renewals(ledger) == 1
