"""Whether a failed external call may be sent again.

The seed decided retries from error text alone (``_is_retryable_error``); PRAHO learned the hard
way that a lost response then executes a mutation twice. Here the text match is one input only:

* ``RETRIABLE``     — provably not applied (refused before the remote acted): safe to resend.
* ``NOT_RETRIABLE`` — the remote answered "no"; resending gives the same answer.
* ``UNKNOWN``       — may have been applied (timeout after sending, 5xx, connection reset).
  Non-idempotent calls are never blindly resent: reconcile first (read the remote state).
"""

from __future__ import annotations

import enum

import requests


class Retriability(enum.StrEnum):
    RETRIABLE = "retriable"
    NOT_RETRIABLE = "not_retriable"
    UNKNOWN = "unknown"


RETRYABLE_PATTERNS = (
    "connection timeout",
    "server error",
    "rate limit",
    "temporarily unavailable",
    "network error",
)
"""The seed's retryable text patterns, unchanged."""

_NOT_RETRIABLE_PATTERNS = (
    "already exists",
    "does not exist",
    "not found",
    "invalid",
    "quota exceeded",
    "login failed",
    "permission denied",
    "not allowed",
)
_REFUSAL_PATTERNS = (
    "rate limit",
    "temporarily unavailable",
    "too many requests",
    "server busy",
    "try again",
    "overload",
)
"""Texts of a remote that refused the work before doing it: provably not applied."""


def _is_retryable_error(error_message: str) -> bool:
    """Determine if error should trigger retry (the seed's function, kept verbatim)."""
    retryable_patterns = [
        "connection timeout",
        "server error",
        "rate limit",
        "temporarily unavailable",
        "network error",
    ]
    return any(pattern in error_message.lower() for pattern in retryable_patterns)


def classify_error_text(error_message: str) -> Retriability:
    """Classify a remote's *application* error message (an answer was received).

    The remote answered. A permanent verdict ("already exists", "invalid") is checked first: it
    never changes, whatever else the text holds (a domain may be called ``overload.ro``). A
    refusal ("rate limit", "too many requests") means it did not do the work (RETRIABLE). The
    seed's other transient texts ("server error", "connection timeout", "network error") say
    something broke *while* working, so the mutation may have been applied: UNKNOWN, like an
    HTTP 5xx. Anything else is UNKNOWN too.
    """
    text = (error_message or "").lower()
    if any(p in text for p in _NOT_RETRIABLE_PATTERNS):
        return Retriability.NOT_RETRIABLE
    if any(p in text for p in _REFUSAL_PATTERNS):
        return Retriability.RETRIABLE
    if _is_retryable_error(text):  # the seed's verdict: transient, but maybe applied
        return Retriability.UNKNOWN
    return Retriability.UNKNOWN


def classify_http_status(status: int) -> Retriability:
    """Map an HTTP status of a *mutating* call to retriability (production-facts §7)."""
    if status == 429:
        return Retriability.RETRIABLE
    if status >= 500:
        return Retriability.UNKNOWN
    if 400 <= status < 500:
        return Retriability.NOT_RETRIABLE
    return Retriability.UNKNOWN


def classify_transport_error(exc: BaseException) -> Retriability:
    """Map a ``requests`` transport exception to retriability.

    ``ConnectTimeout`` is RETRIABLE: no byte of the request reached the remote. A
    ``ReadTimeout`` or a reset connection happen after sending, so the outcome is UNKNOWN.
    TLS failures are configuration errors and never fix themselves.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Retriability.RETRIABLE
    if isinstance(exc, requests.exceptions.SSLError):
        return Retriability.NOT_RETRIABLE
    if isinstance(exc, requests.exceptions.ReadTimeout | requests.exceptions.ConnectionError):
        return Retriability.UNKNOWN
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return Retriability.NOT_RETRIABLE
    return Retriability.UNKNOWN


class GatewayError(Exception):
    """A failed external call, with what we know about whether it was applied."""

    def __init__(self, message: str, retriability: Retriability, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.retriability = retriability
        self.status = status


class RetryableTaskError(Exception):
    """Raised by a task to make Django-Q2 redeliver it (the seed's "raise to retry")."""


class UnexpectedTaskError(Exception):
    """A sanitized stand-in for an unexpected exception, re-raised so Django-Q2 records a failure
    (and redelivers) without storing the original message, which may carry a credential. The
    full traceback goes to the 💥 log line, through the redacting log filter."""
