"""benchmarks.report: rows, table, chart and the regression gate, on synthetic runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import report


def _bench(name, median, lo, hi, pytest_group=None, **extra):
    entry = {
        "name": name,
        "group": pytest_group,
        "stats": {"min": lo, "max": hi, "median": median, "rounds": 3},
        "extra_info": extra,
    }
    return entry


def _write(path: Path, *benches) -> Path:
    path.write_text(
        json.dumps(
            {
                "machine_info": {"node": "box", "cpu": {"brand_raw": "CPU"}},
                "datetime": "2026-01-01T00:00:00",
                "commit_info": {"id": "abcdef1234567"},
                "benchmarks": list(benches),
            }
        )
    )
    return path


LAT = {"start": {"p50": 1.0, "p95": 2.0, "p99": 3.0}, "saved": {"p50": 4, "p95": 5, "p99": 6}}


@pytest.fixture
def run_file(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "run.json",
        _bench(
            "test_a[x]",
            2.0,
            1.8,
            2.2,
            group="g-pytest",
            tasks=100,
            config="cfg-a",
            latency_ms=LAT,
            load1=1.25,
        ),
        _bench("test_b", 0.5, 0.5, 0.6, pytest_group="ignored", tasks=1000, group="floor"),
        _bench("test_replay", 1.0, 0.9, 1.1, pytest_group="replay-by-pytest", tasks=50),
        _bench("test_plain", 0.1, 0.1, 0.1),
        _bench("test_paced", 10.0, 10.0, 10.0, tasks=50, group="paced", rate_per_s=5.0),
    )


def test_rows_tasks_per_second_spread_and_groups(run_file: Path) -> None:
    run = report.load(run_file)
    a, b, replay, plain, paced = run.rows
    assert paced.paced and paced.tasks_per_s == 5.0 and not a.paced
    assert (a.group, a.label, a.tasks_per_s) == ("g-pytest", "cfg-a", 50.0)
    assert a.spread_pct == pytest.approx(20.0)
    assert a.range_tasks_per_s == pytest.approx((100 / 2.2, 100 / 1.8))
    assert (b.group, b.tasks_per_s) == ("floor", 2000.0)  # extra_info group wins
    assert replay.group == "replay-by-pytest"  # falls back to pytest-benchmark's group
    assert plain.group == "other" and plain.tasks_per_s is None
    assert run.machine == "box CPU" and run.commit == "abcdef1234"


def test_markdown_and_html_are_deterministic_and_complete(run_file: Path) -> None:
    run = report.load(run_file)
    md = report.markdown(run)
    assert "| g-pytest | cfg-a | 100 | 2.000 | 50.0 | 20.0 % | 1 / 2 / 3 | 4 / 5 / 6 | 1.2 |" in md
    assert "| floor | test_b | 2,000.0 | 1.000 |" in md  # best of groups, ratio to the fastest
    assert "| g-pytest | cfg-a | 50.0 | 0.025 |" in md
    assert "| paced | test_paced | 5.0 |" not in md  # a paced rate is no capacity
    page = report.html_page(run)
    assert page.count("<rect ") == 4  # one bar per row that reports tasks
    assert "<svg" in page and "test_plain" in page  # the table still lists it
    assert report.html_page(report.load(run_file)) == page
    assert report.markdown(report.load(run_file)) == md


def test_summary_writes_files(run_file: Path, tmp_path: Path, capsys) -> None:
    md, page = tmp_path / "o" / "s.md", tmp_path / "o" / "c.html"
    assert report.main(["summary", str(run_file), "--md", str(md), "--html", str(page)]) == 0
    assert md.read_text().startswith("# Benchmark summary")
    assert "<svg" in page.read_text()
    assert "test_a[x]" not in capsys.readouterr().out  # labels come from extra_info config


def test_compare_fails_beyond_threshold(tmp_path: Path, capsys) -> None:
    base = _write(tmp_path / "b.json", _bench("t1", 1.0, 1, 1, tasks=100), _bench("t2", 1.0, 1, 1))
    slower = _write(
        tmp_path / "c.json",
        _bench("t1", 1.25, 1.2, 1.3, tasks=100),
        _bench("t2", 1.05, 1.05, 1.05),
    )
    assert report.main(["compare", str(base), str(slower), "--threshold", "15"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "1 regression(s): t1 (tasks/s)" in out
    assert report.main(["compare", str(base), str(slower), "--threshold", "25"]) == 0
    timing = report.compare(report.load(base), report.load(slower), 4.0)
    assert [(v.metric, v.regressed) for v in timing] == [("tasks/s", True), ("median s", True)]
    assert timing[0].worse_pct == pytest.approx(20.0)


def test_a_median_worse_within_overlapping_rounds_is_noise_not_a_regression(
    tmp_path: Path, capsys
) -> None:
    # baseline rounds 1.0–1.3 s; current 1.25–1.6 s: the median is 25 % worse, but the current
    # fastest round beats the baseline's slowest, so one noisy run cannot fail the gate
    base = _write(tmp_path / "b.json", _bench("t1", 1.0, 1.0, 1.3, tasks=100))
    noisy = _write(tmp_path / "c.json", _bench("t1", 1.25, 1.25, 1.6, tasks=100))
    moved = _write(tmp_path / "d.json", _bench("t1", 1.4, 1.35, 1.6, tasks=100))
    (verdict,) = report.compare(report.load(base), report.load(noisy), 15.0)
    assert verdict.worse_pct == pytest.approx(20.0) and verdict.overlaps and not verdict.regressed
    assert report.main(["compare", str(base), str(noisy), "--threshold", "15"]) == 0
    assert "ok (rounds overlap)" in capsys.readouterr().out
    assert report.main(["compare", str(base), str(moved), "--threshold", "15"]) == 1


def test_faster_is_never_a_regression(tmp_path: Path) -> None:
    base = _write(tmp_path / "b.json", _bench("t1", 1.0, 1, 1, tasks=100))
    faster = _write(tmp_path / "c.json", _bench("t1", 0.5, 0.5, 0.5, tasks=100))
    assert report.main(["compare", str(base), str(faster), "--threshold", "0"]) == 0


@pytest.mark.parametrize(
    "content,reason",
    [(None, "no such file"), ("{", "not readable JSON"), ("[]", "not pytest-benchmark JSON")],
)
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, capsys, content, reason) -> None:
    src = tmp_path / "in.json"
    if content is not None:
        src.write_text(content)
    md = tmp_path / "out.md"
    assert report.main(["summary", str(src), "--md", str(md)]) == 2
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1
    assert not md.exists()


def test_compare_needs_a_common_benchmark(tmp_path: Path, capsys) -> None:
    a = _write(tmp_path / "a.json", _bench("t1", 1, 1, 1))
    b = _write(tmp_path / "b.json", _bench("t2", 1, 1, 1))
    assert report.main(["compare", str(a), str(b)]) == 2
    assert "share no benchmark" in capsys.readouterr().err


def test_paced_runs_are_gated_on_latency(tmp_path: Path) -> None:
    lat = {"start": {"p50": 1, "p95": 2, "p99": 3}, "saved": {"p50": 100, "p95": 200, "p99": 300}}
    slow = {**lat, "saved": {"p50": 130, "p95": 200, "p99": 300}}
    base = _write(
        tmp_path / "b.json", _bench("p", 6.0, 6, 6, tasks=30, rate_per_s=5, latency_ms=lat)
    )
    cur = _write(
        tmp_path / "c.json", _bench("p", 6.0, 6, 6, tasks=30, rate_per_s=5, latency_ms=slow)
    )
    (verdict,) = report.compare(report.load(base), report.load(cur), 15.0)
    assert (verdict.metric, verdict.regressed) == ("saved p50 ms", True)
    assert verdict.worse_pct == pytest.approx(30.0)


def _month(mode: str, median: float, statements: dict[str, float], **extra):
    return _bench(
        f"test_month_{mode}",
        median,
        median,
        median,
        group="month",
        tasks=1000,
        config=f"month, {mode}",
        month_mode=mode,
        statements=statements,
        **extra,
    )


def test_month_rows_show_statements_by_origin_and_gate_the_harness_share(tmp_path: Path) -> None:
    acc = {"total": 12.0, "project": 8.0, "django-q2": 3.5, "driver": 0.5}
    floor = {"total": 8.0, "project": 8.0, "django-q2": 0.0, "driver": 0.0}
    base = _write(
        tmp_path / "b.json",
        _month("accelerated", 10.0, acc),
        _month("floor", 8.0, floor, harness_statements=4.0),
    )
    md = report.markdown(report.load(base))
    assert "| month, accelerated | 1,000 | 10.0 | 1.25 | 12.00 (8.00 / 3.50 / 0.50) |" in md
    own = "The harness's own statements per execution (accelerated minus the sync floor): 4.00"
    assert own in md
    worse = _write(
        tmp_path / "c.json",
        _month("accelerated", 10.0, acc),
        _month("floor", 8.0, floor, harness_statements=4.2),  # 5 % more of ours
    )
    verdicts = report.compare(report.load(base), report.load(worse), 15.0, 2.0)
    (own,) = [v for v in verdicts if v.metric == "harness statements/execution"]
    assert own.regressed and own.worse_pct == pytest.approx(5.0)
    assert report.main(["compare", str(base), str(worse), "--threshold", "15"]) == 1
    same = report.compare(report.load(base), report.load(base), 15.0, 2.0)
    assert not any(v.regressed for v in same)
    older = _write(tmp_path / "d.json", _month("floor", 8.0, floor))  # before the figure
    (shown,) = [
        v
        for v in report.compare(report.load(older), report.load(worse), 15.0, 2.0)
        if v.metric == "harness statements/execution"
    ]
    assert shown.current == 4.2 and not shown.gated and not shown.regressed
