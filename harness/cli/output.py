"""What the commands share: output paths checked before a run, progress, writing results."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from harness.errors import HarnessError


def writable(path: str | None, what: str) -> None:
    """Refuse an output path up front, so a bad one fails before the run, with nothing written."""
    if path is None:
        return
    target = Path(path)
    parent = target if what == "--report" else target.parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise HarnessError(f"{what} {path}: {probe} is not a directory")
    if what != "--report" and target.is_dir():
        raise HarnessError(f"{what} {path} is a directory")


def write_outputs(
    result: Any, json_out: str | None, timeline: str | None = None, report: str | None = None
) -> None:
    """The summary is printed; ``--json`` (with the run record), ``--timeline`` and
    ``--report`` are written when asked for."""
    from harness.report import print_summary, write_html

    print_summary(result)
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(
            json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    if timeline:
        result.timeline.write(timeline)
    if report:
        path = write_html(result, report)
        print(f"report: {path.resolve()}")


class Progress:
    """A rich progress bar in simulated time (on stderr)."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.plain = enabled and not self.console.is_terminal
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[now]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.task: Any = None
        self.last_day: str | None = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.__exit__(*exc)

    def __call__(self, now: dt.datetime, start: dt.datetime, end: dt.datetime, zone: Any) -> None:
        label = now.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        if self.enabled:
            total = (end - start).total_seconds()
            if self.task is None:
                self.task = self.bar.add_task("simulating", total=total, now=label)
            self.bar.update(self.task, completed=(now - start).total_seconds(), now=label)
        elif self.plain:
            day = label[:10]
            if day != self.last_day:  # one line per simulated day when not on a terminal
                self.last_day = day
                done = 100 * (now - start) / (end - start)
                sys.stderr.write(f"simulating {label} ({done:.0f}%)\n")
                sys.stderr.flush()
