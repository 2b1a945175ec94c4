"""How a run may behave: the watchdog's budget, the runaway budgets, the project's own lock
helpers, and the apps whose start-up work is redone at the virtual start.

* ``watchdog = "10s"``: wall-clock seconds one task or scheduler pass may take;
* ``[runaway] max_chain, max_per_second``: how far a replay may go without virtual time passing
  (:mod:`harness.sim.runaway`);
* ``lock_helpers``: the project's lock context managers, released at a task's virtual end
  (``[locks] helpers``, its old spelling, is read until the next release);
* ``[startup] ready``: app labels whose ``AppConfig.ready()`` runs again at the virtual start
  (found by themselves when the harness sets Django up: :mod:`harness.run.startup`).
"""

from __future__ import annotations

import datetime as dt
import re

from harness.scenario.model import Scenario
from harness.scenario.reader import _DOTTED, OptionsReader, _show
from harness.spellings import deprecated

_LABEL = re.compile(r"^[A-Za-z_]\w*$")
RUNAWAY_KEYS = ("max_chain", "max_per_second")


def parse_run_limits(r: OptionsReader, scenario: Scenario) -> None:
    watchdog = r.duration("watchdog", default=dt.timedelta(seconds=10))
    if not dt.timedelta(seconds=0.1) <= watchdog <= dt.timedelta(hours=1):
        r.fail("must be between 100ms and 1h (wall-clock time per call)", "watchdog")
    scenario.watchdog = watchdog.total_seconds()
    if r.has("locks"):  # the old spelling (harness.spellings)
        locks = r.table("locks")
        if r.has("lock_helpers"):
            locks.fail("give lock_helpers only ([locks] helpers is its old spelling)", "helpers")
        deprecated(f"{r.source}: locks.helpers", "lock_helpers", stacklevel=4)
        _lock_helpers(locks, "helpers", scenario)
        locks.done()
    _lock_helpers(r, "lock_helpers", scenario)
    runaway = r.table("runaway")
    for key in RUNAWAY_KEYS:
        value = runaway.get(key, int, default=None)
        if value is None:
            continue
        if value < 1:
            runaway.fail("must be at least 1", key)
        scenario.runaway[key] = value
    runaway.done()
    startup = r.table("startup")
    for i, label in enumerate(startup.get("ready", list, default=[])):
        if not isinstance(label, str) or not _LABEL.match(label):
            startup.fail(f"{_show(label)} is not an app label like 'billing'", f"ready[{i}]")
        scenario.startup_ready.append(label)
    startup.done()


def _lock_helpers(r: OptionsReader, key: str, scenario: Scenario) -> None:
    for i, path in enumerate(r.get(key, list, default=[])):
        if not isinstance(path, str) or not _DOTTED.match(path):
            r.fail(f"{_show(path)} is not a dotted path to a lock context manager", f"{key}[{i}]")
        scenario.lock_helpers.append(path)
