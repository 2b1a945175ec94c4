"""Old spellings, still read for one release, and the one-line message that says so.

Every concept has one spelling across the TOML, the CLI, the ``qsim``/``scenario`` markers and
Python: the table is ``docs/api.md`` (a test holds it to the parsers and to this module). A
spelling that changed keeps working until :data:`UNTIL`, with a
:class:`~harness.errors.HarnessDeprecation` naming the new one. A leaf module.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from harness.errors import HarnessDeprecation

UNTIL = "0.3.0"
"""The release that stops reading the old spellings."""

TOML: dict[str, str] = {
    "[locks] helpers": "lock_helpers",
    "[[load]] begin": "[[load]] start",
    "faults[] kind": "faults[] mode",
    "[expect.secrets] settings": "[expect.secrets] setting_names",
}
FLAGS: dict[str, str] = {
    "harness explore --seed": "harness explore --search-seed",
    "harness gate --out": "harness gate --report",
    "harness sweep --out": "harness sweep --report",
}
KEYWORDS: dict[str, str] = {"watchdog_seconds": "watchdog"}  # Simulation(), @pytest.mark.qsim
NAMES: dict[str, str] = {"refute_enqueued": "assert_not_enqueued"}  # harness.*, Simulation.*


def deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    """Say once, in one line, that ``old`` is read as ``new`` until :data:`UNTIL`."""
    warnings.warn(
        f"{old} is deprecated: write {new} (read until dq-harness {UNTIL})",
        HarnessDeprecation,
        stacklevel=stacklevel,
    )


def renamed_keywords(owner: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` (keywords a signature did not name) under their new names; a keyword that is
    no old spelling is the ``TypeError`` Python would raise."""
    out = {}
    for old, value in given.items():
        new = KEYWORDS.get(old)
        if new is None:
            raise TypeError(f"{owner}() got an unexpected keyword argument {old!r}")
        deprecated(f"{owner}({old}=)", f"{new}=", stacklevel=4)
        out[new] = value
    return out
