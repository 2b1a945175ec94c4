"""Summary table, chart and regression gate over pytest-benchmark JSON.

Any benchmark in ``benchmarks/`` joins the table and the chart by setting, in
``benchmark.extra_info``:

* ``tasks``: tasks executed per round (tasks/s = ``tasks`` / median round time);
* ``group``: the row group (falls back to pytest-benchmark's own ``group``, then "other");
* optionally ``config`` (row label), ``latency_ms`` (``{"start"|"saved": {"p50"|"p95"|"p99": ms}}``)
  and ``rounds_tasks_per_s``;
* optionally ``work``: ``{"tasks": n, "statements": …, "rows": …, "calls": …}``, the counted work
  of one round (:mod:`harness.infra.workcount`). A row with counters in both runs is gated on
  them (per task, ``--work-tolerance`` percent); its seconds are then shown, not gated.
* the month's floor row (``benchmarks/test_month.py``): ``statements`` per execution by origin
  and ``harness_statements``, the accelerated replay's minus the floor's, gated the same way.

Commands (exit 0 ok, 1 regression, 2 bad input with one line on stderr and nothing written)::

    python -m benchmarks.report summary RUN.json [--md FILE] [--html FILE]
    python -m benchmarks.report compare BASELINE.json RUN.json [--threshold 15] [--work-tolerance 2]

Same input, same bytes out: nothing here reads the clock.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError


class ReportError(HarnessError):
    """Unreadable or unusable benchmark JSON."""


@dataclass(frozen=True)
class Row:
    """One benchmark of a run, as the summary shows it."""

    group: str
    name: str
    label: str
    tasks: int | None
    median_s: float
    min_s: float
    max_s: float
    rounds: int
    latency: dict[str, dict[str, float]] | None
    load1: float | None = None  # 1-minute load average when the benchmark ended
    paced: bool = False  # tasks arrived at a fixed rate: tasks/s is the offered load
    work: dict[str, float] | None = None  # counted work per task (statements, rows, calls)
    extra: dict[str, Any] | None = None  # the benchmark's whole extra_info, for the sections

    @property
    def tasks_per_s(self) -> float | None:
        return self.tasks / self.median_s if self.tasks and self.median_s > 0 else None

    @property
    def spread_pct(self) -> float:
        """(slowest − fastest round) / median, in percent."""
        return (self.max_s - self.min_s) / self.median_s * 100 if self.median_s > 0 else 0.0

    @property
    def range_tasks_per_s(self) -> tuple[float, float] | None:
        if not self.tasks or self.min_s <= 0:
            return None
        return self.tasks / self.max_s, self.tasks / self.min_s


@dataclass(frozen=True)
class Run:
    rows: list[Row]
    machine: str
    when: str
    commit: str


def load(path: str | Path) -> Run:
    """Read a pytest-benchmark JSON file (``--benchmark-json``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file (run `make bench` first)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ReportError(f"{path}: not pytest-benchmark JSON (no 'benchmarks' list)")
    rows = []
    for bench in data["benchmarks"]:
        try:
            rows.append(_row(bench))
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(f"{path}: malformed benchmark entry ({exc!r})") from None
    machine = data.get("machine_info") or {}
    cpu = (machine.get("cpu") or {}).get("brand_raw", "")
    commit = data.get("commit_info") or {}
    return Run(
        rows=rows,
        machine=" ".join(x for x in (machine.get("node", ""), cpu) if x),
        when=str(data.get("datetime", "")),
        commit=str(commit.get("id", ""))[:10],
    )


def _row(bench: dict[str, Any]) -> Row:
    extra = bench.get("extra_info") or {}
    stats = bench["stats"]
    tasks = extra.get("tasks")
    return Row(
        group=str(extra.get("group") or bench.get("group") or "other"),
        name=str(bench["name"]),
        label=str(extra.get("config") or bench.get("param") or bench["name"]),
        tasks=int(tasks) if tasks else None,
        median_s=float(stats["median"]),
        min_s=float(stats["min"]),
        max_s=float(stats["max"]),
        rounds=int(stats["rounds"]),
        latency=extra.get("latency_ms") or None,
        load1=float(extra["load1"]) if extra.get("load1") is not None else None,
        paced=extra.get("rate_per_s") is not None,
        work=_work(extra.get("work")),
        extra=dict(extra),
    )


WORK_COUNTERS = ("statements", "rows", "calls")


def _work(raw: Any) -> dict[str, float] | None:
    """Counters per task from an ``extra_info["work"]`` entry (None when absent)."""
    if not raw:
        return None
    units = int(raw["tasks"])
    if units < 1:
        raise ValueError("work.tasks must be at least 1")
    return {k: float(raw[k]) / units for k in WORK_COUNTERS if k in raw}


def groups(rows: Sequence[Row]) -> dict[str, list[Row]]:
    """Rows by group, groups in order of first appearance."""
    out: dict[str, list[Row]] = {}
    for row in rows:
        out.setdefault(row.group, []).append(row)
    return out


# -- formatting ---------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _lat(row: Row, kind: str) -> str:
    if not row.latency or kind not in row.latency:
        return "–"
    p = row.latency[kind]
    return " / ".join(_num(p.get(k)) for k in ("p50", "p95", "p99"))


HEADERS = (
    "group",
    "benchmark",
    "tasks/round",
    "median s",
    "tasks/s",
    "spread",
    "start p50/p95/p99 ms",
    "saved p50/p95/p99 ms",
    "load",
    "SQL / rows / calls per task",
)


def table_cells(row: Row) -> list[str]:
    return [
        row.group,
        row.label,
        _num(row.tasks) if row.tasks else "–",
        f"{row.median_s:.3f}",
        _num(row.tasks_per_s, 1),
        f"{row.spread_pct:.1f} %",
        _lat(row, "start"),
        _lat(row, "saved"),
        _num(row.load1, 1),
        _work_cell(row.work),
    ]


def _work_cell(work: dict[str, float] | None) -> str:
    if not work:
        return "–"
    return " / ".join(_num(work.get(k), 1 if k != "calls" else 0) for k in WORK_COUNTERS)


def best_per_group(rows: Sequence[Row]) -> list[tuple[str, Row]]:
    """The fastest row (tasks/s) of each group that reports tasks (paced rows excluded)."""
    best = []
    for name, members in groups(rows).items():
        rated = [r for r in members if r.tasks_per_s and not r.paced]
        if rated:
            best.append((name, max(rated, key=lambda r: r.tasks_per_s or 0.0)))
    return best


def markdown(run: Run) -> str:
    lines = [
        "# Benchmark summary",
        "",
        f"Run: {run.when or '?'} · machine: {run.machine or '?'} · commit: {run.commit or '?'}",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(HEADERS))) + "|",
    ]
    lines += ["| " + " | ".join(table_cells(r)) + " |" for r in run.rows]
    best = best_per_group(run.rows)
    if best:
        top = max(r.tasks_per_s or 0.0 for _, r in best)
        lines += ["", "## Best of each group", "", "| group | benchmark | tasks/s | × fastest |"]
        lines += ["|---|---|---:|---:|"]
        for name, row in best:
            ratio = (row.tasks_per_s or 0.0) / top if top else 0.0
            lines.append(f"| {name} | {row.label} | {_num(row.tasks_per_s, 1)} | {ratio:.3f} |")
    lines += month_lines(run)
    lines += [
        "",
        "spread = (slowest − fastest round) / median round. Latency: enqueue→start and "
        "enqueue→saved; for a released backlog, measured from the release instant. "
        "load: the machine's 1-minute load average when the benchmark ended.",
        "",
    ]
    return "\n".join(lines)


REAL_CLUSTER = "test_qcluster_drain[orm-w2-b10-q100-s1000]"  # the seed's Q_CLUSTER, real
HARNESS_STATEMENTS = "harness_statements"  # the month floor row's: accelerated minus floor


def _split(statements: dict[str, float] | None) -> str:
    """``18.34 (11.70 / 5.10 / 1.54)``: the total, then by who issued them."""
    if not statements:
        return "–"
    parts = " / ".join(f"{statements.get(k, 0):.2f}" for k in ("project", "django-q2", "driver"))
    return f"{statements.get('total', 0):.2f} ({parts})"


def month_lines(run: Run) -> list[str]:
    """ "The month": accelerated, faithful, the sync floor, the real cluster's rate, overheads."""
    modes = {(r.extra or {}).get("month_mode"): r for r in run.rows if r.group == "month"}
    modes.pop(None, None)
    if not modes:
        return []
    lines = [
        "",
        "## The month",
        "",
        "| row | executions | wall s | × sync floor | statements / execution "
        "(project / django-q2 / driver) |",
        "|---|---:|---:|---:|---:|",
    ]
    floor = modes.get("floor")
    for mode in ("accelerated", "faithful", "floor"):
        row = modes.get(mode)
        if row is None:
            continue
        ratio = f"{row.median_s / floor.median_s:.2f}" if floor and floor.median_s else "–"
        lines.append(
            f"| {row.label} | {_num(row.tasks)} | {row.median_s:.1f} | {ratio} | "
            f"{_split((row.extra or {}).get('statements'))} |"
        )
    if floor and floor.extra:
        lines.append(
            f"\nSync floor: {floor.extra.get('floor_bodies_s', 0):.1f} s inside the task bodies "
            f"(the rest: fresh database, set-up, {floor.extra.get('floor_loads', 0)} load "
            f"arrivals); {floor.extra.get('floor_failed', 0)} bodies raised inline, "
            f"{floor.extra.get('replay_failed', 0)} in the replay."
        )
        own = floor.extra.get(HARNESS_STATEMENTS)
        if own is not None:
            lines.append(
                f"\nThe harness's own statements per execution (accelerated minus the sync "
                f"floor): {own:.2f}."
            )
    real = next((r for r in run.rows if r.name == REAL_CLUSTER), None)
    lead = modes.get("accelerated") or next(iter(modes.values()))
    runs, days = lead.tasks, (lead.extra or {}).get("simulated_seconds", 0) / 86400
    if real and real.tasks_per_s and runs:
        lines.append(
            f"\nThe real cluster on the same Q_CLUSTER (orm-w2-b10-q100-s1000) drains no-op "
            f"tasks at {real.tasks_per_s:,.1f} tasks/s: these {runs:,} executions would need at "
            f"least {runs / real.tasks_per_s:,.0f} s of its time, inside {days:g} real days."
        )
    return lines


def print_table(run: Run, file: Any = None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Benchmarks ({run.when or '?'})")
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if i < 2 else "right")
    for row in run.rows:
        table.add_row(*(escape(c) for c in table_cells(row)))
    Console(file=file or sys.stdout, width=160).print(table)


# -- chart --------------------------------------------------------------------------------------

BAR_H, GAP, LEFT, WIDTH, TOP = 18, 6, 330, 900, 40
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#9d755d")


def svg_chart(rows: Sequence[Row]) -> str:
    """Horizontal bars of tasks/s on a log scale, whiskers = fastest/slowest round."""
    rated = [r for r in rows if r.tasks_per_s]
    if not rated:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="30"></svg>'
    hi_all = max((r.range_tasks_per_s or (0.0, 0.0))[1] for r in rated)
    lo_all = min(r.tasks_per_s or 1.0 for r in rated)
    lo_exp = math.floor(math.log10(max(lo_all, 1e-9)))
    hi_exp = math.ceil(math.log10(max(hi_all, lo_all * 10)))
    span = WIDTH - LEFT - 90

    def x(value: float) -> float:
        v = math.log10(max(value, 10.0**lo_exp))
        return LEFT + (v - lo_exp) / (hi_exp - lo_exp) * span

    colours = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups(rated))}
    height = TOP + len(rated) * (BAR_H + GAP) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{LEFT}" y="16" font-weight="bold">tasks/s (log scale; whiskers: fastest '
        "and slowest round)</text>",
    ]
    for exp in range(lo_exp, hi_exp + 1):
        gx = x(10.0**exp)
        out.append(
            f'<line x1="{gx:.1f}" y1="{TOP - 8}" x2="{gx:.1f}" y2="{height - 24}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{gx:.1f}" y="{height - 8}" text-anchor="middle" fill="#555">'
            f"{10**exp:,}</text>"
        )
    for i, row in enumerate(rated):
        y = TOP + i * (BAR_H + GAP)
        tps = row.tasks_per_s or 0.0
        colour = colours[row.group]
        label = html.escape(f"{row.group} · {row.label}")
        out.append(f'<text x="{LEFT - 6}" y="{y + BAR_H - 5}" text-anchor="end">{label}</text>')
        out.append(
            f'<rect x="{LEFT}" y="{y}" width="{x(tps) - LEFT:.1f}" height="{BAR_H}" '
            f'fill="{colour}"><title>{label}: {tps:,.1f} tasks/s</title></rect>'
        )
        rng = row.range_tasks_per_s
        if rng:
            mid = y + BAR_H / 2
            out.append(
                f'<line x1="{x(rng[0]):.1f}" y1="{mid}" x2="{x(rng[1]):.1f}" y2="{mid}" '
                'stroke="#222"/>'
            )
        out.append(f'<text x="{x(tps) + 4:.1f}" y="{y + BAR_H - 5}">{tps:,.1f}</text>')
    out.append("</svg>")
    return "\n".join(out)


def html_page(run: Run) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in table_cells(r)) + "</tr>"
        for r in run.rows
    )
    meta = html.escape(f"{run.when or '?'} · {run.machine or '?'} · commit {run.commit or '?'}")
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>Benchmarks</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px}td:nth-child(n+3){text-align:right}"
        "</style></head><body>\n"
        f"<h1>Benchmarks</h1><p>{meta}</p>\n{svg_chart(run.rows)}\n"
        f"<table><tr>{head}</tr>{body}</table>\n</body></html>\n"
    )


# -- compare ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    name: str
    metric: str
    baseline: float
    current: float
    worse_pct: float  # > 0: worse than the baseline
    regressed: bool
    overlaps: bool = False  # the two runs' rounds overlap: worse, but within the noise
    gated: bool = True  # False: shown for information (the row is gated on counted work)


def compare(
    baseline: Run, current: Run, threshold_pct: float, work_tolerance_pct: float = 2.0
) -> list[Verdict]:
    """Per benchmark in both runs, the verdicts that decide the gate.

    A row with work counters in both runs is gated on them: statements, rows and calls per
    task, each failing when more than ``work_tolerance_pct`` above the baseline. Counted work
    does not drift with the machine's load, so the tolerance can be small; the row's seconds
    are reported beside, ungated.

    A row without counters is gated on time: tasks/s (higher is better), else median time
    (lower is better); paced runs by their median enqueue→saved latency (lower is better). A
    time regression needs both: the median worse by more than ``threshold_pct``, and no overlap
    between the two runs' rounds (the current fastest round slower than the baseline's
    slowest). On a noisy machine one slow round must not fail the gate; a real slowdown moves
    every round.
    """
    base = {r.name: r for r in baseline.rows}
    verdicts = []
    for row in current.rows:
        old = base.get(row.name)
        if old is None:
            continue
        counted = bool(row.work and old.work)
        if counted:
            verdicts += _work_verdicts(row, old, work_tolerance_pct)
        verdicts += _harness_verdict(row, old, work_tolerance_pct)
        verdicts.append(_time_verdict(row, old, threshold_pct, gated=not counted))
    return verdicts


def _work_verdicts(row: Row, old: Row, tolerance_pct: float) -> list[Verdict]:
    out = []
    for key in WORK_COUNTERS:
        b, c = (old.work or {}).get(key), (row.work or {}).get(key)
        if b is None or c is None:
            continue
        worse = (c - b) / b * 100 if b else (100.0 if c > 0 else 0.0)
        out.append(Verdict(row.name, f"{key}/task", b, c, worse, worse > tolerance_pct))
    return out


def _harness_verdict(row: Row, old: Row, tolerance_pct: float) -> list[Verdict]:
    """The month's harness-only statements per execution (accelerated minus the sync floor),
    gated like counted work: a regression in our part cannot hide behind the project's."""
    b = (old.extra or {}).get(HARNESS_STATEMENTS)
    c = (row.extra or {}).get(HARNESS_STATEMENTS)
    if c is None:
        return []
    metric = "harness statements/execution"
    if b is None:  # a baseline from before the figure: shown, gated from the next baseline on
        return [Verdict(row.name, metric, math.nan, c, 0.0, False, gated=False)]
    worse = (c - b) / b * 100 if b else (100.0 if c > 0 else 0.0)
    return [Verdict(row.name, metric, b, c, worse, worse > tolerance_pct)]


def _time_verdict(row: Row, old: Row, threshold_pct: float, gated: bool) -> Verdict:
    if row.paced and _saved_p50(row) and _saved_p50(old):
        # a paced run's tasks/s is its offered load; its latency is what can regress
        metric, b, c = "saved p50 ms", _saved_p50(old), _saved_p50(row)
        worse = (c - b) / b * 100
        overlaps = False  # pooled percentiles: no per-round ranges to compare
    elif row.tasks_per_s and old.tasks_per_s:
        metric, b, c = "tasks/s", old.tasks_per_s, row.tasks_per_s
        worse = (b - c) / b * 100
        cur_range, old_range = row.range_tasks_per_s, old.range_tasks_per_s
        overlaps = bool(cur_range and old_range and cur_range[1] >= old_range[0])
    else:
        metric, b, c = "median s", old.median_s, row.median_s
        worse = (c - b) / b * 100 if b else 0.0
        overlaps = row.min_s <= old.max_s
    slower = worse > threshold_pct
    return Verdict(
        row.name, metric, b, c, worse, gated and slower and not overlaps, slower and overlaps, gated
    )


def noise(run: Run) -> Row | None:
    """The run's machine-noise row (``benchmarks/test_noise.py``), if it ran."""
    return next((r for r in run.rows if r.group == "machine-noise"), None)


def _saved_p50(row: Row) -> float:
    return float((row.latency or {}).get("saved", {}).get("p50") or 0.0)


def print_compare(
    verdicts: Sequence[Verdict],
    threshold_pct: float,
    file: Any = None,
    work_tolerance_pct: float = 2.0,
    noise_rows: tuple[Row | None, Row | None] = (None, None),
) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=f"Against the baseline (counted work: fail above +{work_tolerance_pct:g} % per "
        f"task; time, for rows without counters: fail when worse by more than "
        f"{threshold_pct:g} % and every round slower than the baseline's slowest)"
    )
    for header in ("benchmark", "metric", "baseline", "current", "worse by", "verdict"):
        table.add_column(header, justify="left" if header in ("benchmark", "metric") else "right")
    for v in verdicts:
        table.add_row(
            escape(v.name),
            v.metric,
            f"{v.baseline:,.3f}",
            f"{v.current:,.3f}",
            f"{v.worse_pct:+.1f} %",
            _verdict_cell(v),
        )
    console = Console(file=file or sys.stdout, width=160)
    console.print(table)
    base_noise, cur_noise = noise_rows
    if base_noise or cur_noise:
        spread = "; ".join(
            f"{name} {r.spread_pct:.1f} % spread, {_num(r.tasks_per_s, 1)} units/s"
            for name, r in (("baseline", base_noise), ("this run", cur_noise))
            if r is not None
        )
        console.print(f"machine noise (seconds move this much on their own): {spread}")


def _verdict_cell(v: Verdict) -> str:
    if not v.gated:
        return "info (no baseline figure)" if math.isnan(v.baseline) else "info (gated on work)"
    if v.regressed:
        return "[red]REGRESSION[/red]"
    return "ok (rounds overlap)" if v.overlaps else "ok"


# -- command line -------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m benchmarks.report")
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("summary", help="table (printed + markdown) and HTML chart of a run")
    s.add_argument("run")
    s.add_argument("--md", type=Path)
    s.add_argument("--html", type=Path)
    c = sub.add_parser("compare", help="exit 1 when a benchmark regressed beyond --threshold")
    c.add_argument("baseline")
    c.add_argument("run")
    c.add_argument("--threshold", type=float, default=15.0, help="percent (default 15)")
    c.add_argument(
        "--work-tolerance",
        type=float,
        default=2.0,
        help="percent more counted work per task that still passes (default 2)",
    )
    args = parser.parse_args(argv)
    try:
        if args.cmd == "summary":
            run = load(args.run)
            if not run.rows:
                raise ReportError(f"{args.run}: no benchmarks in this run")
            md, page = markdown(run), html_page(run)
            print_table(run)
            for line in month_lines(run):
                print(line.replace("**", ""))
            for path, text in ((args.md, md), (args.html, page)):
                if path:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(text)
                    print(f"wrote {path}")
            return 0
        if args.threshold < 0 or args.work_tolerance < 0:
            raise ReportError("--threshold and --work-tolerance must not be negative")
        base_run, cur_run = load(args.baseline), load(args.run)
        verdicts = compare(base_run, cur_run, args.threshold, args.work_tolerance)
        if not verdicts:
            raise ReportError(f"{args.baseline} and {args.run} share no benchmark")
        print_compare(
            verdicts,
            args.threshold,
            work_tolerance_pct=args.work_tolerance,
            noise_rows=(noise(base_run), noise(cur_run)),
        )
        bad = sorted({f"{v.name} ({v.metric})" for v in verdicts if v.regressed})
        if bad:
            print(f"{len(bad)} regression(s): {', '.join(bad)}")
            return 1
        return 0
    except ReportError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
