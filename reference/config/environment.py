"""Settings read from the environment, and the one-line error when one is missing or wrong.

Production takes its secrets and deployment facts from the environment (docs/platform.md,
"Production"). A missing or malformed variable is :class:`EnvironmentMisconfigured` — Django's
``ImproperlyConfigured`` with a message naming the variable — and ``manage.py`` and
``config/wsgi.py`` print that message as one line and exit 2 (:func:`exit_on_misconfiguration`)
instead of a traceback through the settings module.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured

HELP = "see docs/platform.md, Production"


class EnvironmentMisconfigured(ImproperlyConfigured):
    """An environment variable the settings need is missing or malformed."""


def required(name: str) -> str:
    """The variable's value; an unset or blank one is :class:`EnvironmentMisconfigured`."""
    value = os.environ.get(name, "").strip()
    if not value:
        module = os.environ.get("DJANGO_SETTINGS_MODULE", "these settings")
        raise EnvironmentMisconfigured(f"{name} is not set: {module} needs it ({HELP})")
    return value


def listed(name: str) -> list[str]:
    """A comma-separated list (blank items dropped); unset is empty."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def integer(name: str, default: int) -> int:
    """A non-negative integer, ``default`` when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise EnvironmentMisconfigured(f"{name}={raw!r} is not a whole number ({HELP})")
    return int(raw)


def flag(name: str, default: bool) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case), ``default`` when unset."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise EnvironmentMisconfigured(f"{name}={raw!r} is not one of 1/0, true/false ({HELP})")


@contextmanager
def exit_on_misconfiguration(prog: str) -> Iterator[None]:
    """Run the block; a misconfigured environment ends the process with one line and exit 2."""
    try:
        yield
    except EnvironmentMisconfigured as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        raise SystemExit(2) from None
