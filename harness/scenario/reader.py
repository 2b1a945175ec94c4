"""Reading one scenario table with a key path for messages: the public :class:`OptionsReader`.

Every scenario problem is one line, ``<file>: <key path>: <reason>``. A checker's ``options``
function receives an ``OptionsReader`` for its ``[expect.<name>]`` table: ``get`` (typed),
``duration`` (the one grammar), ``table``, ``fail``; keys nobody read are the scenario's error.
The reader itself is :class:`harness.options.OptionsReader` (fault plans use it too); here it
raises :class:`~harness.scenario.model.ScenarioError`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import harness.options as options
from harness.options import APP_PATH, EARLIEST, LATEST, show
from harness.scenario.model import ScenarioError

_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")  # a module may be top-level
_COMMAND = re.compile(r"^[A-Za-z_][\w-]*$")

_show = show
_valid_cron = options.valid_cron
__all__ = ["APP_PATH", "EARLIEST", "LATEST", "OptionsReader"]


class OptionsReader(options.OptionsReader):
    """:class:`harness.options.OptionsReader` raising :class:`ScenarioError`."""

    def __init__(self, source: str, data: Any, where: str, error: Any = None) -> None:
        super().__init__(source, data, where, error or ScenarioError)


def _instant(r: options.OptionsReader, key: str, raw: Any, zone: str | None) -> dt.datetime:
    return r.instant(key, raw, zone)


def _offset_or_instant(r: options.OptionsReader, key: str, raw: Any, zone: str | None) -> Any:
    return r.offset_or_instant(key, raw, zone)
