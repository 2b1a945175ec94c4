"""File names made from what a user typed: always one plain name inside the folder they named.

A scenario's ``name`` decides the report's file name (``<name>-seed<N>.html``) and the folders of
``harness gate -n`` and ``harness sweep``; a name of ``../../x``, ``/abs/path`` or ``sub/dir/x``
must not write outside the folder the user asked for (a leaf module: the report and the CLI use
it).
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(name: str, fallback: str = "scenario") -> str:
    """``name`` as one safe file name: letters, digits, ``.``, ``_`` and ``-``; no leading dot
    (no ``..``), at most 80 characters; ``fallback`` when nothing is left."""
    text = _UNSAFE.sub("-", name).strip(".-")
    text = re.sub(r"\.{2,}", ".", text)[:80].strip(".-")
    return text or fallback
