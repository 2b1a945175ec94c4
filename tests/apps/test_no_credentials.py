"""Acceptance 5: no credential in stored Task results, audit rows or logs.

Every test in this directory is already scanned by the autouse ``no_credentials_leak`` fixture
(conftest). This test provokes the worst case on purpose: remotes that echo credentials back in
their error messages and transport errors whose text carries the request URL (with ``pass=``),
run through django-q2's real worker and monitor so the results are stored as ``Task`` rows.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django_q.models import Task

from apps.billing.models import Invoice, Subscription
from apps.domains.models import Domain
from apps.provisioning import virtualmin_tasks
from tests.apps.conftest import (
    VM_PASSWORD,
    make_registrar,
    make_virtualmin,
    run_queued,
    secrets_in_use,
    stored_texts,
)


@pytest.mark.django_db(transaction=True)
def test_echoed_and_embedded_credentials_never_reach_results_or_logs(
    rsps, ledger, service, customer, no_credentials_leak, settings
):
    from django.utils import timezone

    from apps.billing.tasks import generate_daily_invoices
    from apps.domains.tasks import renew_domain_async

    token = settings.REGISTRAR_API_TOKEN
    make_virtualmin(
        rsps,
        ledger,
        {
            "rules": [
                {
                    "type": "error",
                    "operation": "list-domains",
                    "status": 500,
                    "message": f"auth admin:{VM_PASSWORD} rejected upstream",
                    "max_count": 1,
                },
                {"type": "outage", "mode": "connection_refused", "operation": "create-domain"},
            ]
        },
    )
    fake_registrar = make_registrar(
        rsps,
        ledger,
        {
            "rules": [
                {
                    "type": "error",
                    "operation": "domain.renew",
                    "status": 500,
                    "message": f"token {token} expired",
                }
            ]
        },
    )
    domain = Domain.objects.create(customer=customer, name="ana-shop.ro", expires_at=timezone.now())
    fake_registrar.add_domain("ana-shop.ro", domain.expires_at)
    Subscription.objects.create(
        customer=customer,
        plan="Starter",
        amount_cents=100,
        next_billing_date=timezone.localdate(),
        created_at=timezone.now(),
    )
    settings.STRIPE_SECRET_KEY = "sk_test_not_what_the_fake_expects"  # unmounted → refused

    virtualmin_tasks.provision_virtualmin_account_async(service.pk)
    renew_domain_async(domain.pk, 1)
    generate_daily_invoices()
    run_queued()
    # Second round: the Virtualmin retry reaches create-domain (connection refused, pass= in URL).
    from apps.provisioning.models import ProvisioningJob

    ProvisioningJob.objects.update(next_retry_at=timezone.now())
    virtualmin_tasks.process_failed_virtualmin_jobs()
    run_queued()

    sent_passwords = [
        parse_qs(urlsplit(call.request.url).query).get("pass", [""])[0]
        for call in rsps.calls
        if "create-domain" in call.request.url
    ]
    assert sent_passwords and all(sent_passwords)
    assert Task.objects.count() >= 4 and Task.objects.filter(success=False).exists()
    assert Invoice.objects.exists()
    texts = stored_texts() + no_credentials_leak.lines
    assert any("[REDACTED]" in t for t in texts)  # the echoes really happened
    for secret in [*secrets_in_use(), *sent_passwords]:
        assert not [t for t in texts if secret in t], secret


@pytest.mark.django_db
def test_unexpected_errors_are_reraised_and_logged_without_the_secret(
    virtualmin, service, monkeypatch, no_credentials_leak
):
    import logging

    from apps.common.logging import RedactingFilter
    from apps.common.retriability import UnexpectedTaskError
    from apps.provisioning.gateway import VirtualminGateway

    def boom(self, domain):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"parser crashed on 'admin:{VM_PASSWORD}'")

    monkeypatch.setattr(VirtualminGateway, "get_domain", boom)
    with pytest.raises(UnexpectedTaskError) as caught:
        virtualmin_tasks.provision_virtualmin_account(service.pk)
    assert VM_PASSWORD not in str(caught.value) and "[REDACTED]" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    crash = [line for line in no_credentials_leak.lines if "💥" in line]
    assert crash and "RuntimeError" in crash[0] and VM_PASSWORD not in crash[0]

    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "pw %s", (VM_PASSWORD,), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "pw [REDACTED]"
