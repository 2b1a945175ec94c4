"""``harness sweep`` and ``harness gate -n``: replays on pytest-xdist, same bytes as alone."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.run.parallel import parse_seeds

pytestmark = pytest.mark.dbpath
HERE = Path(__file__).parent


def test_seeds_are_ranges_and_lists_in_order_without_repeats():
    assert parse_seeds("1..4") == [1, 2, 3, 4]
    assert parse_seeds("9, 3..4,3") == [9, 3, 4]
    for bad in ("5..1", "a", "1..", "-3"):
        with pytest.raises(HarnessError, match="--seeds"):
            parse_seeds(bad)


@pytest.mark.parametrize(
    "argv,reason",
    [
        (["--seeds", "3..1"], "--seeds"),
        (["--seeds", "1..2", "-n", "0"], "-n '0'"),
        (["--seeds", "1", "--until", "gat"], "'gat' is neither an ISO time nor an offset"),
        (["--seeds", "1", "--until", "2020-01-01T00:00:00"], "not after the scenario start"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(cli, tmp_path, argv, reason):
    out = tmp_path / "sweep"
    code, _, err = cli("sweep", str(HERE / "tiny.toml"), *argv, "--report", str(out))
    assert code == 2 and reason in err and err.count("\n") == 1
    assert not out.exists()


def test_a_seed_gives_the_same_bytes_in_a_sweep_as_alone(cli, tmp_path):
    out = tmp_path / "sweep"
    code, text, _ = cli(
        "sweep", str(HERE / "tiny.toml"), "--seeds", "1..2", "-n", "1", "--report", str(out)
    )
    assert code == 0, text
    assert "2 seeds, 2 passed, 0 failed" in text
    alone = tmp_path / "alone-2.jsonl"
    code, _, _ = cli(
        "replay", str(HERE / "tiny.toml"), "--seed", "2", "--no-progress", "--timeline", str(alone)
    )
    assert code == 0
    swept = (out / "seed-2.jsonl").read_bytes()
    assert swept == alone.read_bytes() and len(swept) > 1000
    run = json.loads((out / "seed-2.json").read_text())
    assert run["seed"] == 2 and run["ok"]
    # different seeds, different runs (the sweep did not replay one seed twice)
    assert (out / "seed-1.jsonl").read_bytes() != swept


def test_failing_seeds_are_listed_with_their_reproduce_commands(cli, tmp_path, capsys):
    """What a worker leaves (a failed run's JSON, an error note, nothing) becomes the table."""
    from harness.cli.sweep import print_sweep
    from harness.run.parallel import Job, outcome_of

    leaky = str(HERE / "leaky.toml")
    failed_json = tmp_path / "seed-4.json"
    code, _, _ = cli("replay", leaky, "--seed", "4", "--no-progress", "--json", str(failed_json))
    assert code == 1
    jobs = [
        Job(id=f"seed-{n}", ref=leaky, seed=n, out=str(tmp_path / f"seed-{n}.json"))
        for n in (4, 5, 6)
    ]
    (tmp_path / "seed-5.error").write_text("ScenarioError: boom\ntraceback…\n")
    outcomes = [outcome_of(job) for job in jobs]
    assert [o.ok for o in outcomes] == [False, False, False]
    assert outcomes[0].failed == ["secrets"] and outcomes[1].error == "ScenarioError: boom"
    assert "crashed" in (outcomes[2].error or "")

    assert print_sweep("leaky", outcomes, 1.0, tmp_path) == 1
    text = capsys.readouterr().out
    assert "3 seeds, 0 passed, 3 failed" in text and "secrets" in text and "boom" in text
    assert f"  harness replay {leaky} --seed 4 --settings" in text  # the run's own command
    assert f"  harness replay {leaky} --seed 5\n" in text  # no run: rebuilt from the job


def test_gate_in_parallel_matches_the_goldens_written_serially(cli, tmp_path):
    """One worker is enough to prove the path: the scenario replays in an xdist worker and its
    timeline, read back by the parent, matches the golden the serial gate wrote."""
    code, text, _ = cli("gate", "lost-response", "-n", "1", "--report", str(tmp_path / "gate"))
    assert code == 0, text
    assert "✔ lost-response" in text and "match the golden" in text
    assert [p.name for p in (tmp_path / "gate").glob("*.jsonl")] == ["000-lost-response.jsonl"]


def test_two_gateways_in_pid_namespaces_of_their_own_both_complete(cli, tmp_path, monkeypatch):
    """Each ``--tx`` gateway runs as pid 1 of its own PID namespace, as replays in two
    containers sharing one PostgreSQL do: their run databases neither share a name nor are
    dropped under each other, and both seeds' runs complete."""
    from tests.harness.freshdb_support import server_url, unshare_prefix

    monkeypatch.setenv("DATABASE_URL", server_url())  # pid 1 must not join the embedded server
    spec = "popen//python=" + shlex.join([*unshare_prefix(), sys.executable])
    out = tmp_path / "sweep"
    argv = ["sweep", str(HERE / "tiny.toml"), "--seeds", "1..2", "--tx", spec, "--tx", spec]
    code, text, _ = cli(*argv, "--report", str(out))
    assert code == 0, text
    assert "2 seeds, 2 passed, 0 failed" in text
    assert all(json.loads((out / f"seed-{n}.json").read_text())["ok"] for n in (1, 2))
