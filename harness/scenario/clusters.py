"""The clusters a scenario runs, and the settings it overrides.

* ``[cluster]``: the project's own cluster (its ``Q_CLUSTER``), with any setting of
  :data:`harness.sim.cluster.SETTINGS` overridden, plus ``downtime``.
* ``[[clusters]]``: more named clusters, as a project runs them with
  ``Q_CLUSTER_NAME=<name> manage.py qcluster`` (django-q2's ``ALT_CLUSTERS``): each serves the
  queue of its name (``async_task(..., cluster=name)``, ``Schedule.cluster``). A named cluster
  starts from ``Q_CLUSTER`` with its ``ALT_CLUSTERS`` entry applied, then these overrides.
* ``[override_settings]``: Django settings overridden for the whole replay (set-up included)
  and restored after it, as ``override_settings`` does — for a feature flag the project reads at
  call time (a twin scenario with the feature off).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from harness.scenario.model import Scenario
from harness.scenario.reader import OptionsReader, _offset_or_instant, _show

_SETTING_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def parse_cluster(t: OptionsReader, scenario: Scenario) -> None:
    """``[cluster]``: overrides of the project's cluster, and its downtime."""
    scenario.cluster.update(_overrides(t, named=False))
    scenario.downtime.extend(_downtime(t, scenario))
    t.done()


def parse_named_clusters(r: OptionsReader, items: list[Any], scenario: Scenario) -> None:
    """``[[clusters]]``: one table per named cluster (``name`` required, unique)."""
    seen: set[str] = set()
    for i, item in enumerate(items):
        t = OptionsReader(r.source, item, f"clusters[{i}]")
        name = t.get("name", str, required=True)
        if not name.strip():
            t.fail("must not be empty", "name")
        if name in seen or name == scenario.cluster.get("name"):
            t.fail(f"{name!r} is named twice", "name")
        seen.add(name)
        overrides = _overrides(t, named=True)
        overrides["name"] = name
        overrides["downtime"] = _downtime(t, scenario)
        scenario.clusters.append(overrides)
        t.done()


def parse_settings(t: OptionsReader, scenario: Scenario) -> None:
    """``[override_settings]``: UPPER_CASE Django settings and their values for the replay."""
    for key in list(t.data):
        if not _SETTING_NAME.match(key):
            t.fail(f"{key!r} is not a Django setting name (UPPER_CASE)", key)
        scenario.override_settings[key] = t.get(key, None)
    t.done()


def _overrides(t: OptionsReader, named: bool) -> dict[str, Any]:
    from harness.sim.cluster import SETTINGS

    out: dict[str, Any] = {}
    for setting in SETTINGS:
        key = setting.field
        if key == "name" and named:
            continue  # a named cluster's name is read by the caller
        if not t.has(key):
            continue
        value = t.get(key, setting.kinds)
        if isinstance(value, float) and not math.isfinite(value):
            t.fail(f"must be a finite number, got {value}", key)
        low = setting.minimum
        if low is not None and not isinstance(value, bool) and value < low:
            t.fail(f"must be at least {low:g}, got {value}", key)
        out[key] = value
    return out


def _downtime(t: OptionsReader, scenario: Scenario) -> list[tuple[dt.datetime, dt.datetime]]:
    out = []
    for i, item in enumerate(t.get("downtime", list, default=[])):
        if not isinstance(item, dict):
            t.fail(f"expected a table with start and end, got {_show(item)}", f"downtime[{i}]")
        d = OptionsReader(t.source, item, t.path("downtime") + f"[{i}]")
        begin = _offset_or_instant(d, "start", d.get("start", None, required=True), None)
        end = _offset_or_instant(d, "end", d.get("end", None, required=True), None)
        d.done()
        a = scenario.start + begin if isinstance(begin, dt.timedelta) else begin
        b = scenario.start + end if isinstance(end, dt.timedelta) else end
        if b <= a:
            d.fail("end must be after start", "end")
        out.append((a, b))
    return out
