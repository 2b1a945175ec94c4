"""Task input validation and error sanitization (the seed's "Security Considerations").

Task arguments are pickled into the broker table and echoed into ``Task`` rows, and error
messages end up in results, audit rows and logs. So: validate arguments before any work (type,
length, payload size), and pass every message through :func:`sanitize`, which removes every
configured secret verbatim plus anything shaped like a credential.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

MAX_STRING_LENGTH = 255
DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024
REDACTED = "[REDACTED]"

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
_CREDENTIAL_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9_]+"), REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9_]+"), REDACTED),
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[^\s,;\"']+"), rf"\1 {REDACTED}"),
    (
        re.compile(r"(?i)\b(pass|passwd|password|secret|token|api_key|apikey)=[^&\s\"']+"),
        rf"\1={REDACTED}",
    ),
    (
        re.compile(r"(?i)(\"(?:pass|passwd|password|secret|token|api_key)\"\s*:\s*)\"[^\"]*\""),
        rf'\1"{REDACTED}"',
    ),
    (re.compile(r"://[^/\s:@]+:[^/\s@]+@"), f"://{REDACTED}@"),
)
_SECRET_SETTINGS = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "REGISTRAR_API_TOKEN")

_secret_providers: list[Callable[[], Iterable[str]]] = []


class TaskInputError(ValueError):
    """A task argument is invalid; never retried (the same input fails the same way)."""


def register_secret_provider(provider: Callable[[], Iterable[str]]) -> None:
    """Let an app contribute secrets stored outside settings (e.g. per-server passwords)."""
    if provider not in _secret_providers:
        _secret_providers.append(provider)


def known_secrets() -> list[str]:
    """Every configured secret value, longest first (so substrings are redacted last)."""
    values = [getattr(settings, name, "") or "" for name in _SECRET_SETTINGS]
    for provider in _secret_providers:
        values.extend(provider())
    return sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)


def _sanitize_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    for pattern, replacement in _CREDENTIAL_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def sanitize(value: Any, *, _secrets: list[str] | None = None) -> Any:
    """Return ``value`` (str, dict, list, tuple; nested) with every credential redacted."""
    secrets = known_secrets() if _secrets is None else _secrets
    if isinstance(value, str):
        return _sanitize_text(value, secrets)
    if isinstance(value, dict):
        return {k: sanitize(v, _secrets=secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(sanitize(v, _secrets=secrets) for v in value)
    if isinstance(value, BaseException):
        return _sanitize_text(str(value), secrets)
    return value


def safe_error(exc: BaseException | str) -> str:
    """A one-line, credential-free error text for results, audit rows and logs."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return sanitize(text[:500])


def validate_id(value: Any, *, name: str) -> int:
    """A positive integer primary key (bools and strings of digits are refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise TaskInputError(f"{name} must be a positive integer, got {type(value).__name__}")
    return value


def validate_str(value: Any, *, name: str, max_length: int = MAX_STRING_LENGTH) -> str:
    """A non-empty string of at most ``max_length`` characters."""
    if not isinstance(value, str) or not value.strip():
        raise TaskInputError(f"{name} must be a non-empty string")
    if len(value) > max_length:
        raise TaskInputError(f"{name} is longer than {max_length} characters")
    return value.strip()


def validate_domain(value: Any, *, name: str = "domain") -> str:
    """A syntactically valid lower-case DNS name."""
    domain = validate_str(value, name=name, max_length=253).lower()
    if not _DOMAIN_RE.match(domain):
        raise TaskInputError(f"{name} is not a valid domain name")
    return domain


def validate_payload_size(payload: Any, *, name: str = "payload") -> int:
    """Refuse payloads above ``TASK_MAX_PAYLOAD_BYTES`` (they bloat the broker table)."""
    limit = getattr(settings, "TASK_MAX_PAYLOAD_BYTES", DEFAULT_MAX_PAYLOAD_BYTES)
    size = len(json.dumps(payload, default=str).encode())
    if size > limit:
        raise TaskInputError(f"{name} is {size} bytes, above the {limit}-byte limit")
    return size
