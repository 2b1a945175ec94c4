"""The terminal summary: per task (runs, ok, failed, timeouts, retries, duplicates) and per
checker (verdict and its one-line message)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


def _common_prefix(funcs: list[str]) -> str:
    """The dotted prefix all task paths share (``apps.``), dropped to keep the table narrow."""
    if len(funcs) < 2:
        return ""
    parts = [f.split(".") for f in funcs]
    common = []
    for segs in zip(*parts, strict=False):
        if len(set(segs)) != 1:
            break
        common.append(segs[0])
    return ".".join(common) + "." if common else ""


def task_table(stats: dict[str, dict[str, int]]) -> Table:
    prefix = _common_prefix(list(stats))
    title = f"Tasks ({prefix}…)" if prefix else "Tasks"
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("task", overflow="fold")
    for col in ("runs", "ok", "failed", "timeout", "retries", "duplicates"):
        table.add_column(col, justify="right")
    prefix = _common_prefix(list(stats))
    for func, row in stats.items():
        func = func[len(prefix) :]
        cells = [str(row[c]) for c in ("runs", "ok", "failed", "timeout", "retries", "duplicates")]
        style = "red" if row["duplicates"] else ("yellow" if row["failed"] + row["timeout"] else "")
        table.add_row(func, *cells, style=style)
    return table


def checker_table(verdicts: list[Any]) -> Table:
    table = Table(title="Checks", title_justify="left", show_edge=False)
    table.add_column("check")
    table.add_column("verdict")
    table.add_column("message", overflow="fold")
    for v in verdicts:
        mark = Text("✔ ok", style="green") if v.ok else Text("✘ FAIL", style="bold red")
        table.add_row(v.name, mark, Text(v.message))  # a message is text, never markup
    return table


ROOTS_SHOWN = 30


def _problem_lines(result: Any, console: Console) -> None:
    """One line per root cause (checker, rule, cause) — new ones, then those a baseline knows —
    and the baseline's fingerprints that no longer occur. Every instance is in the JSON."""
    from harness.checkers.problems import describe_root, roots

    zone = result.scenario.zone

    def local(t: Any) -> str:
        return t.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    new = roots(p for v in result.verdicts for p in v.problems)
    known = roots(p for v in result.verdicts for p in v.known)
    if new or known:
        console.print("\n[bold]Problems by root cause[/]")
    for mark, group in (("✘", new), ("·", known)):
        for root in group[:ROOTS_SHOWN]:
            tail = " (known: baseline)" if mark == "·" else ""
            line = f"  {mark} {describe_root(root, local)}{tail}"
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        if len(group) > ROOTS_SHOWN:
            console.print(f"  … {len(group) - ROOTS_SHOWN} more root causes (the JSON has all)")
    fixed = getattr(result, "fixed", [])
    if fixed:
        console.print("\n[bold green]Fixed — remove from baseline[/]")
        for e in fixed:
            line = f"  {e.fingerprint}  {e.checker} · {e.rule}: {e.cause} ({e.subject})"
            console.print(line, markup=False, highlight=False, soft_wrap=True)


def print_summary(result: Any, console: Console | None = None) -> None:
    """Print the two tables and the overall verdict of a :class:`~harness.run.runner.RunResult`."""
    if console is None:
        console = Console()
        if not console.is_terminal:  # a CI log or a pipe: wide enough for full task paths
            console = Console(width=140)
    console.print(task_table(result.stats))
    console.print()
    console.print(checker_table(result.verdicts))
    _problem_lines(result, console)
    arrivals = next((v for v in result.verdicts if v.name == "load-outcomes"), None)
    if arrivals is not None and arrivals.evidence:  # what the load did, every run (ok or not)
        console.print("\n[bold]Arrivals[/]")
        for line in arrivals.evidence:
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    status = (
        "[green]all checks hold[/]" if result.ok else f"[bold red]{len(result.failed)} failed[/]"
    )
    known = sum(len(v.known) for v in result.verdicts)
    if known:
        status += f" ({known} known problems set aside by the baseline)"
    console.print(
        f"\n{result.scenario.name}: {status}  (seed {result.seed}, {len(result.timeline)} events)"
    )
    from harness.record.findings import when

    stopped = getattr(result, "stopped", None)
    at = when(result.end, result.scenario.zone)
    if stopped:
        why = (
            "work went on without virtual time passing (runaway)"
            if stopped.get("finding") == "runaway"
            else "a call did not return"
        )
        console.print(
            f"[bold red]stopped[/] at {at}: {why} (see driver-findings); the run was judged up "
            "to that instant",
            highlight=False,
        )
    if result.record.interrupted:
        console.print(
            f"[bold red]interrupted[/] by {result.record.interrupted} at {at}: a partial run, "
            "judged up to that instant",
            highlight=False,
        )
    console.print(f"reproduce: [bold]{result.command}[/]")
