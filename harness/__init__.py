"""dq-harness: a deterministic testing and simulation harness for Django-Q2.

The public API is re-exported lazily so that settings modules can import
:mod:`harness.database` before Django is configured.
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "DatabaseUnavailable": "harness.database",
    "database_settings": "harness.database",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
