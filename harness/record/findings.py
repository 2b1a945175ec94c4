"""How a driver finding reads, in one place: the failing test's message (``qsim``) and the
``driver-findings`` verdict (a replay) say the same words."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

_SKIP = ("finding", "at", "schedule", "stack", "stopped", "budget_seconds", "cluster")


def when(value: Any, zone: ZoneInfo) -> str:
    """An instant as local wall-clock time with the zone's abbreviation."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def _runaway(item: dict[str, Any], at: str) -> str:
    if item.get("runaway") == "chain":
        via = item.get("via") or []
        how = f", via {' and '.join(via)}" if via else ""
        return (
            f"runaway at {at}: {item.get('chain')}{how}, without virtual time passing "
            f"({item.get('budget')}); the run ended here"
        )
    return (
        f"runaway at {at}: {item.get('count')} {item.get('what')} within one virtual second "
        f"({item.get('budget')}); the run ended here"
    )


def describe(item: dict[str, Any], zone: ZoneInfo) -> str:
    """One line: what happened, where, when (local time) and the details that name the cause."""
    at = when(item["at"], zone)
    if item["finding"] == "watchdog":
        budget = item.get("budget_seconds")
        if item.get("stopped") == "scheduler pass":
            text = (
                f"the scheduler pass of cluster {item.get('cluster')} at {at} did not return "
                f"within {budget:g} s"
            )
            schedule = item.get("schedule")
            if schedule:
                rule = (
                    f"cron {schedule['cron']!r}"
                    if schedule.get("cron")
                    else f"type {schedule.get('type')}"
                )
                text += (
                    f": schedule {schedule['name']!r} (func {schedule['func']}, {rule}, "
                    f"catch_up {'on' if schedule.get('catch_up') else 'off'}, next_run "
                    f"{when(schedule['next_run'], zone)}) — its next-run computation never "
                    "got past the current time"
                )
                if schedule.get("why"):
                    text += f": {schedule['why']}"
        else:
            text = (
                f"{item.get('func') or item.get('stopped')} (task {str(item.get('task'))[:8]}, "
                f"attempt {item.get('attempt')}) at {at} did not return within {budget:g} s"
            )
        stack = item.get("stack")
        return text + (f" [stack: {stack}]" if stack else "")
    if item["finding"] == "runaway":
        return _runaway(item, at)
    details = ", ".join(f"{k}={v}" for k, v in item.items() if k not in _SKIP)
    where = f" (cluster {item['cluster']})" if item.get("cluster") else ""
    return f"{item['finding']} at {at}{where}" + (f": {details}" if details else "")
