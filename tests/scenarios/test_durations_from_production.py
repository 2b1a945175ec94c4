"""``harness durations``: django-q2's Task rows (a database, ``dumpdata``, a plain list) become
per-function run-time distributions, and a scenario replays with them (``[durations] from``)."""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import tomllib
from pathlib import Path
from urllib.parse import quote

import pytest

from harness.distributions import QUANTILES, Distribution, format_file, read_file

pytestmark = pytest.mark.dbpath
HERE = Path(__file__).parent
REPO = HERE.parents[1]
FUNC = "apps.provisioning.virtualmin_tasks.provision_virtualmin_account"
OTHER = "apps.billing.tasks.send_invoice_reminders"
SECONDS = [20.0 + i for i in range(61)]  # what FUNC's single attempts took: 20 s … 80 s
T0 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)


def _task(n: int, func: str, seconds: float, attempts: int = 1, success: bool = True):
    """A Task row as django-q2 leaves it: ``started`` at enqueue, ``stopped`` at the end of
    the last attempt, ``attempt_count`` counting the attempts."""
    from django_q.models import Task

    started = T0 + dt.timedelta(minutes=n)
    return Task(
        id=f"{n:032x}",
        name=f"task-{n}",
        func=func,
        args=(),
        kwargs={},
        started=started,
        stopped=started + dt.timedelta(seconds=seconds),
        success=success,
        attempt_count=attempts,
        result=None,
    )


@pytest.fixture
def production(django_db_blocker):
    """A scratch database with the reference platform's schema (a fresh run database) holding
    Task rows; yields a ``postgresql://`` URL for it, with a password in it."""
    from django.db import connection
    from django_q.models import Task

    from harness.infra.freshdb import fresh_database

    with django_db_blocker.unblock(), fresh_database() as name:
        rows = [_task(i, FUNC, s) for i, s in enumerate(SECONDS)]
        rows += [_task(100 + i, FUNC, 900.0 + i, attempts=3) for i in range(4)]  # redelivered
        rows.append(_task(200, FUNC, -2.0))  # stopped before started: two hosts' clocks
        rows += [_task(300 + i, OTHER, 1.5 + i, success=i == 0) for i in range(3)]
        Task.objects.bulk_create(rows)
        s = connection.settings_dict
        password = s.get("PASSWORD") or "Pg-Secret-7q2x"  # trust auth ignores a wrong one
        host = quote(s["HOST"] or "localhost", safe="")
        yield f"postgresql://{s['USER']}:{password}@{host}:{s['PORT']}/{name}", password


def test_a_database_of_task_rows_becomes_a_distribution_file(production, cli, tmp_path):
    url, password = production
    out = tmp_path / "scenarios" / "durations.toml"
    code, said, err = cli("durations", "--from", url, "--out", str(out))
    assert code == 0, err
    text = out.read_text()
    dists = read_file(text)
    assert set(dists) == {FUNC, OTHER}
    measured = dists[FUNC]
    assert (measured.count, measured.low, measured.high) == (61, 20.0, 80.0)
    percentiles = statistics.quantiles(SECONDS, n=100, method="inclusive")
    assert measured.points[1:-1] == tuple(percentiles[round(q * 100) - 1] for q in QUANTILES)
    assert (dists[OTHER].count, dists[OTHER].failed) == (3, 2)
    source = tomllib.loads(text)["source"]
    assert (source["rows"], source["kept"]) == (69, 64)
    assert source["excluded"] == {"retried": 4, "negative": 1}
    assert "ENQUEUED" in text and "queue" in source["measures"]  # what the numbers mean
    assert source["from"].startswith("postgresql://") and source["from"].endswith(url[-20:])
    assert password not in text + said + err  # the URL's password is shown nowhere
    assert f"{out}: 2 functions from 64 of 69 Task rows (5 left out: 4 retried, 1 " in said

    # what a user can run against production: manage.py dumpdata django_q.task
    from django.core.management import call_command

    export = tmp_path / "export.json"
    call_command("dumpdata", "django_q.task", output=str(export), verbosity=0)
    again = tmp_path / "from-dumpdata.toml"
    code, said, err = cli("durations", "--from", str(export), "--out", str(again))
    assert code == 0, err
    assert read_file(again.read_text()) == dists
    assert f"from = {json.dumps(str(export))}" in again.read_text()


def test_a_plain_list_of_rows_without_attempt_counts_is_read_and_says_so(cli, tmp_path):
    rows = [
        {"func": FUNC, "started": "2026-05-04T09:00:00+00:00", "stopped": t}
        for t in ("2026-05-04T09:00:04+00:00", "2026-05-04T09:00:10+00:00")
    ]
    export = tmp_path / "rows.json"
    export.write_text(json.dumps(rows))
    out = tmp_path / "d.toml"
    code, _, err = cli("durations", "--from", str(export), "--out", str(out))
    assert code == 0, err
    dist = read_file(out.read_text())[FUNC]
    assert (dist.count, dist.low, dist.high, dist.at(0.5)) == (2, 4.0, 10.0, 7.0)
    assert "no attempt_count" in out.read_text()


BAD = [
    ("missing.json", None, "cannot read Task rows"),
    ("object.json", {"func": FUNC}, "expected a JSON list"),
    ("bad-time.json", [{"func": FUNC, "started": "yesterday", "stopped": "2026-05-04"}],
     "[0].started: 'yesterday' is not an ISO-8601 date-time"),
    ("bad-dumpdata.json", [{"model": "django_q.task", "pk": "x", "fields": {"started": "x"}}],
     "[0].fields.func: expected the task's dotted path"),
    ("mixed-zones.json",
     [{"func": FUNC, "started": "2026-05-04T09:00:00", "stopped": "2026-05-04T09:00:01Z"}],
     "mix times with and without a UTC offset"),
    ("only-retried.json",
     [{"func": FUNC, "started": "2026-05-04T09:00:00Z", "stopped": "2026-05-04T09:00:01Z",
       "attempt_count": 2}],
     "no Task row times one execution (1 rows; 1 retried"),
    ("not-json.json", "[{", "cannot read Task rows"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_exports_are_one_line_exit_2_nothing_written(cli, tmp_path, name, content, reason):
    source = tmp_path / name
    if content is not None:
        source.write_text(content if isinstance(content, str) else json.dumps(content))
    out = tmp_path / "out" / "durations.toml"
    code, said, err = cli("durations", "--from", str(source), "--out", str(out))
    assert (code, said) == (2, "")
    assert err.count("\n") == 1 and reason in err, err
    assert not out.exists() and not out.parent.exists()


def test_bad_databases_and_outputs_are_one_line_and_show_no_password(cli, tmp_path):
    from django.db import connection

    s = connection.settings_dict
    host = quote(s["HOST"] or "localhost", safe="")
    out = tmp_path / "durations.toml"
    cases = [  # (argv, reason)
        (["--from", "mysql://app:Hunter2-pw@db/prod"], "mysql:// is not read"),
        (["--from", f"postgresql://{s['USER']}:Hunter2-pw@{host}:{s['PORT']}/postgres"],
         "no django_q_task table"),
        (["--from", "postgresql://app:Hunter2-pw@127.0.0.1:1/prod?connect_timeout=2"],
         "cannot read Task rows"),
        (["--from", "x.json", "--out", str(tmp_path / "f" / "d.toml")], "is not a directory"),
    ]  # fmt: skip
    (tmp_path / "f").write_text("a file where a folder should be")
    for argv, reason in cases:
        code, said, err = cli("durations", *argv, *([] if "--out" in argv else ["--out", str(out)]))
        assert (code, said) == (2, ""), err
        assert err.count("\n") == 1 and reason in err, err
        assert "Hunter2-pw" not in err
        assert not out.exists()


# -- a scenario that uses the file --------------------------------------------------------------
def _scenario(tmp_path: Path, extra: str = "") -> Path:
    """tiny.toml with its provisioning range replaced by the measured file (``extra``: more
    ``[durations]`` lines)."""
    text = (HERE / "tiny.toml").read_text()
    text = text.replace('project_root = "../.."', f"project_root = {json.dumps(str(REPO))}")
    reference = json.dumps(str(REPO / "reference"))
    text = text.replace('paths = ["../../reference"]', f"paths = [{reference}]")
    text = text.replace(f'[durations.per_func]\n"{FUNC}" = ["10s", "40s"]\n', "")
    text = text.replace("[[load]]", f'[durations]\nfrom = "durations.toml"\n{extra}\n[[load]]', 1)
    assert "10s" not in text and str(REPO) in text
    (tmp_path / "durations.toml").write_text(
        format_file({FUNC: Distribution.of(SECONDS)}, ["measured"], {"from": "test"})
    )
    path = tmp_path / "measured.toml"
    path.write_text(text)
    return path


def _gaps(timeline: Path) -> dict[tuple[str, int], float]:
    started, gaps = {}, {}
    for line in timeline.read_text().splitlines():
        event = json.loads(line)
        if event.get("func") != FUNC or event["kind"] not in ("task.started", "task.finished"):
            continue
        key = (event["task"], event["attempt"])
        at = dt.datetime.fromisoformat(event["t"].replace("Z", "+00:00"))
        if event["kind"] == "task.started":
            started[key] = at
        elif event["kind"] == "task.finished":
            gaps[key] = (at - started[key]).total_seconds()
    return gaps


def test_a_scenario_replays_with_the_measured_run_times(cli, tmp_path):
    path = _scenario(tmp_path)
    runs = {}
    for label, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        timeline = tmp_path / f"{label}.jsonl"
        code, out, err = cli("replay", str(path), "--seed", seed, "--no-progress",
                             "--timeline", str(timeline))  # fmt: skip
        assert code == 0, out + err
        runs[label] = timeline
    assert runs["a"].read_bytes() == runs["b"].read_bytes()  # same seed, same bytes
    measured = Distribution.of(SECONDS)
    gaps = _gaps(runs["a"])
    assert len(gaps) >= 5
    for (task, attempt), gap in gaps.items():
        # each attempt's run time is the inverse CDF of its own seeded draw
        u = random.Random(f"5:{task}:{attempt}").random()
        assert gap == pytest.approx(measured.at(u), abs=1e-6)
        assert 20.0 <= gap <= 80.0
    assert len(set(gaps.values())) > 1
    assert _gaps(runs["c"]) != gaps  # another seed, other draws


def test_explicit_per_func_entries_override_the_file(cli, tmp_path):
    path = _scenario(tmp_path, f'[durations.per_func]\n"{FUNC}" = "7s"\n')
    timeline = tmp_path / "t.jsonl"
    code, out, err = cli("replay", str(path), "--no-progress", "--timeline", str(timeline))
    assert code == 0, out + err
    gaps = _gaps(timeline)
    assert gaps and set(gaps.values()) == {7.0}
