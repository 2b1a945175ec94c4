"""One self-contained HTML file per run: swimlanes over virtual time as inline SVG, the per-task
table, the checkers' verdicts with evidence, and the exact command and seed to reproduce.

No scripts, no external assets, no network: it opens anywhere (and in headless Chromium without
console errors). Dense lanes are bucketed into pixel columns so a month stays a small file.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.record.timeline import (
    CLUSTER_DOWN,
    CLUSTER_UP,
    HTTP_CALL,
    SCHEDULE_FIRED,
    TASK_FINISHED,
    TASK_STARTED,
)

WIDTH = 1100  # plot width in px
LEFT = 210  # label column
LANE = 26
AREA = 60

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330;
background:#fafbfc}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.pass{color:#137333}.fail{color:#c5221f}.muted{color:#5f6673}
code,pre{font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f5;
padding:2px 5px;border-radius:4px}
pre{padding:10px;white-space:pre-wrap}
table{border-collapse:collapse;background:#fff}
th,td{padding:4px 10px;border-bottom:1px solid #e3e6ea;text-align:right}
th:first-child,td:first-child{text-align:left}
td.msg,th.msg{text-align:left;max-width:780px}
tr.bad td{background:#fdecea}
details{margin:2px 0}summary{cursor:pointer}
.card{background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:12px 16px;margin:10px 0}
svg text{font:11px system-ui,sans-serif;fill:#3c4350}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
"""

COLORS = {
    "schedule": "#3367d6",
    "depth": "#7e57c2",
    "workers": "#0b8043",
    "fault": "#f29900",
    "failure": "#c5221f",
    "retry": "#e37400",
    "down": "#9aa0a6",
    "effect": "#5f6368",
}


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


class _Axis:
    def __init__(self, start: dt.datetime, end: dt.datetime, zone: Any) -> None:
        self.start, self.end, self.zone = start, end, zone
        self.span = max((end - start).total_seconds(), 1.0)

    def x(self, when: dt.datetime) -> float:
        frac = (when - self.start).total_seconds() / self.span
        return LEFT + max(0.0, min(1.0, frac)) * WIDTH

    def column(self, when: dt.datetime) -> int:
        return int(self.x(when) - LEFT)

    def ticks(self) -> list[tuple[float, str]]:
        hours = self.span / 3600
        step = 1 if hours <= 12 else 3 if hours <= 48 else 24 if hours <= 24 * 16 else 24 * 7
        local = self.start.astimezone(self.zone).replace(minute=0, second=0, microsecond=0)
        if step >= 24:
            local = local.replace(hour=0)
        out = []
        t = local
        while t.astimezone(dt.UTC) <= self.end:
            if t.astimezone(dt.UTC) >= self.start:
                label = t.strftime("%b %d") if step >= 24 else t.strftime("%d %H:%M")
                out.append((self.x(t.astimezone(dt.UTC)), label))
            t = (t + dt.timedelta(hours=step)).astimezone(self.zone)
        return out


def _series(result: Any) -> dict[str, Any]:
    """Backlog depth and running tasks over time (the run's history: harness.record.history)."""
    loads = result.history.loads
    return {
        "depth": [(load.at, load.waiting) for load in loads],
        "run": [(load.at, sum(load.running.values())) for load in loads],
    }


def _area(
    axis: _Axis,
    points: list[tuple[dt.datetime, int]],
    top: float,
    color: str,
    label: str,
    cap: int | None = None,
) -> str:
    cols: dict[int, int] = defaultdict(int)
    last = 0
    prev_col = 0
    for when, value in points:
        col = axis.column(when)
        for c in range(prev_col, col):  # carry the level across empty columns
            cols[c] = max(cols[c], last)
        cols[col] = max(cols[col], value)
        last, prev_col = value, col
    for c in range(prev_col, WIDTH + 1):
        cols[c] = max(cols[c], last)
    peak = max([*cols.values(), cap or 0, 1])
    path = [f"M{LEFT},{top + AREA}"]
    for c in range(WIDTH + 1):
        y = top + AREA - (cols.get(c, 0) / peak) * (AREA - 4)
        path.append(f"L{LEFT + c},{y:.1f}")
    path.append(f"L{LEFT + WIDTH},{top + AREA}Z")
    parts = [
        f'<text x="8" y="{top + AREA / 2 + 4}">{_esc(label)} (peak {max(cols.values() or [0])})'
        "</text>",
        f'<path d="{"".join(path)}" fill="{color}" fill-opacity="0.35" stroke="{color}" '
        'stroke-width="1"/>',
    ]
    if cap:
        y = top + AREA - (cap / peak) * (AREA - 4)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + WIDTH}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" '
            f'stroke-dasharray="4 3"><title>limit {cap}</title></line>'
        )
    return "".join(parts)


def _marks(
    axis: _Axis, items: list[tuple[dt.datetime, str]], top: float, color: str, label: str
) -> str:
    """Tick marks bucketed per pixel column; the tooltip lists the first few events."""
    cols: dict[int, list[str]] = defaultdict(list)
    for when, text in items:
        cols[axis.column(when)].append(text)
    parts = [f'<text x="8" y="{top + LANE / 2 + 4}">{_esc(label)} ({len(items)})</text>']
    for col, texts in sorted(cols.items()):
        tip = "\n".join(texts[:6]) + (f"\n… {len(texts) - 6} more" if len(texts) > 6 else "")
        parts.append(
            f'<rect x="{LEFT + col - 0.5}" y="{top + 4}" width="2" height="{LANE - 8}" '
            f'fill="{color}"><title>{_esc(tip)}</title></rect>'
        )
    return "".join(parts)


def _bands(
    axis: _Axis,
    spans: list[tuple[dt.datetime, dt.datetime, str]],
    top: float,
    color: str,
    label: str,
) -> str:
    parts = [f'<text x="8" y="{top + LANE / 2 + 4}">{_esc(label)} ({len(spans)})</text>']
    for a, b, text in spans:
        x1, x2 = axis.x(a), axis.x(b)
        parts.append(
            f'<rect x="{x1:.1f}" y="{top + 5}" width="{max(2.0, x2 - x1):.1f}" '
            f'height="{LANE - 10}" fill="{color}" fill-opacity="0.6" rx="2">'
            f"<title>{_esc(text)}</title></rect>"
        )
    return "".join(parts)


def _fault_spans(result: Any, axis: _Axis) -> list[tuple[dt.datetime, dt.datetime, str]]:
    """The recorded fault rules as time spans (a rule without bounds covers the run)."""
    from harness.fakes.faults import parse_time

    start = result.record.scenario.start
    spans = []
    for rule in result.record.fault_rules:
        a = parse_time(rule["start"], "start").resolve(start, "start") if "start" in rule else None
        b = parse_time(rule["end"], "end").resolve(start, "end") if "end" in rule else None
        a, b = a or axis.start, b or axis.end
        if b <= axis.start or a >= axis.end:
            continue
        text = (
            f"{rule.get('fake')}: {rule.get('name') or rule['type']} ({rule['type']}"
            + (f", p={rule['probability']}" if "probability" in rule else "")
            + ")"
        )
        spans.append((max(a, axis.start), min(b, axis.end), text))
    return spans


Lane = tuple[Callable[[float], str], float]  # draw at y, and the lane's height


def swimlanes(result: Any) -> str:
    """The SVG: one lane per schedule, then backlog, workers, downtime, faults, failures,
    retries and external effects."""
    zone = result.scenario.zone
    axis = _Axis(result.scenario.start, result.end, zone)
    lanes = [
        *_schedule_lanes(result, axis),
        *_load_lanes(result, axis),
        *_event_lanes(result, axis),
    ]
    body: list[str] = []
    y = 24.0
    for draw, height in lanes:
        body.append(draw(y))
        y += height
    grid = [
        f'<line x1="{x:.1f}" x2="{x:.1f}" y1="14" y2="{y}" stroke="#dfe3e8"/>'
        f'<text x="{x + 2:.1f}" y="11">{_esc(label)}</text>'
        for x, label in axis.ticks()
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 20}" '
        f'height="{y + 8:.0f}" role="img" aria-label="swimlanes over virtual time">'
        f'<rect x="{LEFT}" y="14" width="{WIDTH}" height="{y - 14}" fill="#fff" stroke="#e3e6ea"/>'
        + "".join(grid)
        + "".join(body)
        + "</svg>"
    )


def _when(axis: _Axis) -> Callable[[dt.datetime], str]:
    return lambda t: t.astimezone(axis.zone).strftime("%Y-%m-%d %H:%M:%S")


def _schedule_lanes(result: Any, axis: _Axis) -> list[Lane]:
    when = _when(axis)
    by_schedule: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for e in result.timeline.of(SCHEDULE_FIRED):
        by_schedule[e.data["schedule"]].append((e.at, f"{when(e.at)} {e.data['schedule']}"))
    names = sorted({row["name"] for row in result.schedules if row["name"]} | set(by_schedule))
    return [
        (lambda y, n=n: _marks(axis, by_schedule.get(n, []), y, COLORS["schedule"], n), LANE)
        for n in names
    ]


def _load_lanes(result: Any, axis: _Axis) -> list[Lane]:
    series = _series(result)
    workers = sum(c.workers for c in result.clusters)
    return [
        (lambda y: "", 6),
        (lambda y: _area(axis, series["depth"], y, COLORS["depth"], "backlog (waiting)"), AREA + 8),
        (
            lambda y: _area(axis, series["run"], y, COLORS["workers"], "workers busy", cap=workers),
            AREA + 8,
        ),
    ]


def _event_lanes(result: Any, axis: _Axis) -> list[Lane]:
    when, tl = _when(axis), result.timeline
    faulted = [
        (e.at, f"{when(e.at)} {e.data['fake']} {e.data['operation']} {e.data.get('key')}: "
         f"{e.data['fault']}")
        for e in tl.of(HTTP_CALL)
        if e.data.get("fault")
    ]  # fmt: skip
    failures = [
        (e.at, f"{when(e.at)} {e.data['func']} {e.data['outcome']}: {e.data.get('error') or ''}")
        for e in tl.of(TASK_FINISHED)
        if e.data["outcome"] != "ok"
    ]
    retries = [
        (e.at, f"{when(e.at)} {e.data['func']} attempt {e.data['attempt']}")
        for e in tl.of(TASK_STARTED)
        if e.data["attempt"] > 1
    ]
    effects = [
        (e.at, f"{when(e.at)} {e.data['effect']} {e.data.get('key')}")
        for e in tl.of(HTTP_CALL)
        if e.data.get("effect")
    ]
    downs, spans = _downtimes(result, axis), _fault_spans(result, axis)
    return [
        (lambda y: _bands(axis, downs, y, COLORS["down"], "cluster down"), LANE),
        (lambda y: _bands(axis, spans, y, COLORS["fault"], "fault rules"), LANE),
        (lambda y: _marks(axis, faulted, y, COLORS["fault"], "faulted calls"), LANE),
        (lambda y: _marks(axis, failures, y, COLORS["failure"], "task failures"), LANE),
        (lambda y: _marks(axis, retries, y, COLORS["retry"], "retries"), LANE),
        (lambda y: _marks(axis, effects, y, COLORS["effect"], "external effects"), LANE),
    ]


def _downtimes(result: Any, axis: _Axis) -> list[tuple[dt.datetime, dt.datetime, str]]:
    when = _when(axis)
    downs: list[tuple[dt.datetime, dt.datetime, str]] = []
    opened: dict[str, dt.datetime] = {}
    for e in result.timeline.of(CLUSTER_DOWN, CLUSTER_UP):
        if e.kind == CLUSTER_DOWN:
            opened[e.data["cluster"]] = e.at
        elif e.data["cluster"] in opened:
            a = opened.pop(e.data["cluster"])
            downs.append((a, e.at, f"{e.data['cluster']} down {when(a)} – {when(e.at)}"))
    for cluster, a in opened.items():
        downs.append((a, result.end, f"{cluster} down from {when(a)}"))
    return downs


def _task_rows(result: Any) -> str:
    """Per function: the outcome counts, and the virtual seconds its bodies slept (a task's
    sleeps are part of its run time: :mod:`harness.sim.scopes`)."""
    slept: dict[str, float] = defaultdict(float)
    for t, attempt in result.history.attempts():
        slept[t.func or "?"] += attempt.slept
    rows = []
    for func, s in result.stats.items():
        bad = ' class="bad"' if s["duplicates"] or s["failed"] or s["timeout"] else ""
        cells = "".join(
            f"<td>{s[c]}</td>" for c in ("runs", "ok", "failed", "timeout", "retries", "duplicates")
        )
        cells += f"<td>{slept[func]:g} s</td>" if slept[func] else "<td></td>"
        rows.append(f"<tr{bad}><td><code>{_esc(func)}</code></td>{cells}</tr>")
    return "".join(rows)


def _banner(result: Any) -> str:
    """Why the run ended before its end, when it did (a stop or a signal)."""
    from harness.record.findings import describe

    record = result.record
    parts = []
    if record.stopped:
        parts.append(f"Stopped: {describe(record.stopped, result.scenario.zone)}")
    if record.interrupted:
        parts.append(f"Interrupted by {record.interrupted}: a partial run, judged up to its end")
    return "".join(f'<div class="card fail">{_esc(p)}</div>' for p in parts)


def _verdict_rows(verdicts: list[Any]) -> str:
    rows = []
    for v in verdicts:
        mark = '<span class="pass">✔ ok</span>' if v.ok else '<span class="fail">✘ FAIL</span>'
        evidence = ""
        if v.evidence:
            items = "".join(f"<li>{_esc(e)}</li>" for e in v.evidence)
            evidence = (
                f"<details><summary>{len(v.evidence)} items</summary><ul>{items}</ul></details>"
            )
        cls = "" if v.ok else ' class="bad"'
        rows.append(
            f"<tr{cls}><td>{_esc(v.name)}</td><td>{mark}</td>"
            f'<td class="msg">{_esc(v.message)}{evidence}</td></tr>'
        )
    return "".join(rows)


def render_html(result: Any) -> str:
    sc = result.scenario
    zone = sc.zone
    verdict = (
        '<span class="pass">every check holds</span>'
        if result.ok
        else f'<span class="fail">{len(result.failed)} check(s) failed</span>'
    )
    legend = "".join(
        f'<span><i class="sw" style="background:{c}"></i>{_esc(k)}</span>'
        for k, c in COLORS.items()
    )
    start = sc.start.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    end = result.end.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(sc.name)} — dq-harness replay</title>
<style>{CSS}</style></head>
<body>
<h1>{_esc(sc.name)}: {verdict}</h1>
<div class="muted">{_esc(start)} → {_esc(end)} ({_esc(sc.time_zone)}), seed {result.seed},
{len(result.timeline)} events, settings <code>{_esc(getattr(sc, "settings", None))}</code></div>
<p>{_esc(" ".join(getattr(sc, "description", "").split()))}</p>
{_banner(result)}
<div class="card">Reproduce: <code>{_esc(result.command)}</code></div>
<h2>Checks</h2>
<table><tr><th>check</th><th>verdict</th><th class="msg">message</th></tr>
{_verdict_rows(result.verdicts)}</table>
<h2>Timeline</h2>
<div class="legend muted">{legend}</div>
<div class="card" style="overflow-x:auto">{swimlanes(result)}</div>
<h2>Tasks</h2>
<table><tr><th>task</th><th>runs</th><th>ok</th><th>failed</th><th>timeout</th><th>retries</th>
<th>duplicates</th><th>slept</th></tr>{_task_rows(result)}</table>
<p class="muted">dq-harness · virtual times in {_esc(sc.time_zone)} · generated from the run's
timeline, nothing external is loaded.</p>
</body></html>
"""


def write_html(result: Any, directory: str | Path) -> Path:
    """Write ``<directory>/<scenario>-seed<N>.html`` (the name made safe: always inside
    ``directory``) and return its path."""
    from harness.names import slug

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{slug(result.scenario.name)}-seed{result.seed}.html"
    path.write_text(render_html(result), encoding="utf-8")
    return path
