"""apps.common: retriability, locks, audit, validation and sanitization, maintenance tasks."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import requests
import time_machine
from django.db import connection
from django.utils import timezone

from apps.common import locks
from apps.common.audit import AuditService
from apps.common.retriability import (
    Retriability,
    _is_retryable_error,
    classify_error_text,
    classify_http_status,
    classify_transport_error,
)
from apps.common.security import (
    REDACTED,
    TaskInputError,
    sanitize,
    validate_domain,
    validate_id,
    validate_payload_size,
    validate_str,
)


def test_seed_patterns_are_kept():
    assert _is_retryable_error("Connection timeout while talking to vm1")
    assert _is_retryable_error("Rate limit exceeded")
    assert not _is_retryable_error("Virtual server x already exists")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Too many requests, please try again later", Retriability.RETRIABLE),
        ("Internal server error", Retriability.UNKNOWN),  # broke while working: maybe applied
        ("Rate limit exceeded", Retriability.RETRIABLE),  # refused: provably not applied
        ("Virtual server x already exists", Retriability.NOT_RETRIABLE),
        ("Invalid domain name : x", Retriability.NOT_RETRIABLE),
        ("Something odd happened", Retriability.UNKNOWN),
    ],
)
def test_error_text_classification(text, expected):
    assert classify_error_text(text) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, Retriability.NOT_RETRIABLE),
        (403, Retriability.NOT_RETRIABLE),
        (404, Retriability.NOT_RETRIABLE),
        (429, Retriability.RETRIABLE),
        (500, Retriability.UNKNOWN),
        (503, Retriability.UNKNOWN),
    ],
)
def test_http_status_classification(status, expected):
    assert classify_http_status(status) == expected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (requests.exceptions.ConnectTimeout("x"), Retriability.RETRIABLE),
        (requests.exceptions.ReadTimeout("x"), Retriability.UNKNOWN),
        (requests.exceptions.ConnectionError("x"), Retriability.UNKNOWN),
        (requests.exceptions.SSLError("x"), Retriability.NOT_RETRIABLE),
    ],
)
def test_transport_classification(exc, expected):
    assert classify_transport_error(exc) == expected


def test_sanitize_removes_configured_secrets_and_credential_shapes(settings):
    settings.REGISTRAR_API_TOKEN = "tok-very-secret-123"
    text = (
        "GET http://vm:10000/remote.cgi?program=create-domain&user=a&pass=hunter2xyz failed; "
        "Authorization: Bearer abc.def.ghi; key sk_test_51Habc; hook whsec_zzz; "
        "url https://admin:pw1234@host/; token tok-very-secret-123"
    )
    clean = sanitize({"error": text, "nested": [text]})
    for secret in (
        "hunter2xyz",
        "abc.def.ghi",
        "sk_test_51Habc",
        "whsec_zzz",
        "pw1234",
        "tok-very-secret-123",
    ):
        assert secret not in repr(clean)
    assert REDACTED in clean["error"] and "program=create-domain" in clean["error"]


def test_validators():
    assert validate_id(3, name="x") == 3
    for bad in (0, -1, True, "3", None):
        with pytest.raises(TaskInputError):
            validate_id(bad, name="x")
    assert validate_str(" ok ", name="s") == "ok"
    with pytest.raises(TaskInputError):
        validate_str("x" * 256, name="s")
    assert validate_domain("Ana-Shop.RO") == "ana-shop.ro"
    with pytest.raises(TaskInputError):
        validate_domain("bad_domain..ro")
    with pytest.raises(TaskInputError, match="above the"):
        validate_payload_size({"blob": "x" * (65 * 1024)})


@pytest.mark.django_db
def test_audit_event_is_sanitized():
    event = AuditService.log_event("task.failed", 7, {"error": "pass=topsecret1 rejected"})
    event.refresh_from_db()
    assert event.resource_id == "7" and "topsecret1" not in repr(event.details)


@pytest.mark.django_db
def test_lock_is_exclusive_expires_and_releases_only_its_own():
    token = locks.acquire("job", 60)
    assert token and locks.acquire("job", 60) is None
    assert not locks.release("job", "someone-else")
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61), tick=False):
        second = locks.acquire("job", 60)  # the first holder died: its lease expired
    assert second and second != token
    assert not locks.release("job", token)  # the old holder cannot free the new lease
    assert locks.release("job", second)
    with locks.distributed_lock("job", 60) as acquired:
        assert acquired
        with locks.distributed_lock("job", 60) as again:
            assert not again


@pytest.mark.django_db(transaction=True)
@pytest.mark.dbpath
def test_lock_holds_across_database_connections():
    token = locks.acquire("cross", 60)
    seen: list[str | None] = []

    def other_connection() -> None:
        try:
            seen.append(locks.acquire("cross", 60))
        finally:
            connection.close()

    thread = threading.Thread(target=other_connection)
    thread.start()
    thread.join()
    assert seen == [None]
    locks.release("cross", token)


@pytest.mark.django_db
def test_cleanup_old_tasks_removes_only_old_results():
    from django_q.models import Task

    from apps.common.tasks import cleanup_old_tasks

    now = timezone.now()
    for i, age in enumerate((40, 31, 5)):
        Task.objects.create(
            id=f"{i:032d}",
            name=f"t{i}",
            func="x.y",
            started=now - dt.timedelta(days=age),
            stopped=now - dt.timedelta(days=age),
            success=True,
        )
    assert cleanup_old_tasks() == {"success": True, "deleted_tasks": 2}
    assert Task.objects.count() == 1


@pytest.mark.django_db
def test_inactive_customers_are_deactivated_unless_they_have_services(customer, service):
    from apps.customers.models import Customer
    from apps.customers.tasks import cleanup_inactive_customers

    old = timezone.now() - dt.timedelta(days=400)
    idle = Customer.objects.create(name="Idle", email="idle@example.ro", created_at=old)
    Customer.objects.filter(pk=customer.pk).update(created_at=old)  # has a live service
    recent = Customer.objects.create(
        name="Recent", email="r@example.ro", created_at=old, last_login_at=timezone.now()
    )
    assert cleanup_inactive_customers() == {"success": True, "deactivated": 1}
    assert not Customer.objects.get(pk=idle.pk).is_active
    assert Customer.objects.get(pk=customer.pk).is_active
    assert Customer.objects.get(pk=recent.pk).is_active
