"""Old spellings keep working for one release, each with one line naming the new spelling."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pytest

from harness.cli import _REGISTRY, _load_subcommands, build_parser, main
from harness.errors import HarnessDeprecation, ScenarioError
from harness.fakes import FaultPlan
from harness.scenario import parse

HERE = Path(__file__).parent
BASE = {"start": "2026-03-01T00:00:00Z", "duration": "1h"}
LOCK = "apps.common.locks.distributed_lock"


def _parse(**tables):
    return parse({**BASE, **tables}, "s.toml")


@pytest.mark.parametrize(
    "old,new,said",
    [
        ({"locks": {"helpers": [LOCK]}}, {"lock_helpers": [LOCK]}, "locks.helpers"),
        (
            {"load": [{"call": "a.b", "every": "1m", "begin": "5m"}]},
            {"load": [{"call": "a.b", "every": "1m", "start": "5m"}]},
            "load[0].begin",
        ),
        (
            {"fakes": {"registrar": {"url": "https://r.test", "faults": [
                {"type": "outage", "kind": "read_timeout"}]}}},
            {"fakes": {"registrar": {"url": "https://r.test", "faults": [
                {"type": "outage", "mode": "read_timeout"}]}}},
            "fakes.registrar.faults[0].kind",
        ),
        (
            {"expect": {"secrets": {"settings": ["STRIPE_SECRET_KEY"]}}},
            {"expect": {"secrets": {"setting_names": ["STRIPE_SECRET_KEY"]}}},
            "expect.secrets.settings",
        ),
    ],
)  # fmt: skip
def test_an_old_toml_key_reads_as_the_new_one_and_says_so(old, new, said):
    with pytest.warns(HarnessDeprecation) as caught:
        got = _parse(**old)
    assert len(caught) == 1
    assert str(caught[0].message).startswith(f"s.toml: {said} is deprecated: write ")
    with warnings.catch_warnings():
        warnings.simplefilter("error", HarnessDeprecation)  # the new spelling: no warning
        want = _parse(**new)
    for field in ("lock_helpers", "loads", "fakes"):
        assert getattr(got, field) == getattr(want, field)
    if "expect" in old:  # kept as written; each reading says so
        from harness.checkers.expectations import parse as parse_expect

        with pytest.warns(HarnessDeprecation):
            got_expect = parse_expect(got.expect, "s.toml")
        assert got_expect == parse_expect(want.expect, "s.toml")


def test_an_old_fault_plan_key_reads_as_the_new_one():
    with pytest.warns(HarnessDeprecation, match=r"rules\[0\]\.kind is deprecated"):
        plan = FaultPlan.from_dict({"rules": [{"type": "outage", "kind": "connection_refused"}]})
    assert plan.rules[0].mode == "connection_refused"


def test_the_old_and_the_new_spelling_at_once_is_an_error():
    with pytest.raises(ScenarioError, match=r"load\[0\]\.begin: give start only"):
        _parse(load=[{"call": "a.b", "every": "1m", "begin": "5m", "start": "6m"}])
    both = {"locks": {"helpers": [LOCK]}, "lock_helpers": [LOCK]}
    with pytest.raises(ScenarioError, match="give lock_helpers only"):
        _parse(**both)


@pytest.mark.parametrize(
    "argv,dest,value",
    [
        (["gate", "--out", "x"], "report", "x"),
        (["sweep", "s", "--seeds", "1", "--out", "x"], "report", "x"),
        (["explore", "s", "--seed", "7"], "search_seed", 7),
    ],
)
def test_an_old_flag_reads_as_the_new_one_and_says_so(argv, dest, value):
    _REGISTRY.clear()
    _load_subcommands()
    with pytest.warns(HarnessDeprecation, match=f"harness {argv[0]} --"):
        args = build_parser().parse_args(argv)
    assert getattr(args, dest) == value
    help_text = _help(build_parser(), argv[0])
    assert argv[-2] not in help_text.split()  # hidden from --help


def _help(parser: argparse.ArgumentParser, command: str) -> str:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command].format_help()


def test_on_the_command_line_a_deprecation_is_one_line_before_the_outcome(capsys, tmp_path):
    out = tmp_path / "sweep"
    code = main(["sweep", str(HERE / "tiny.toml"), "--seeds", "3..1", "--out", str(out)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 2
    assert err[0] == (
        "harness: warning: harness sweep --out is deprecated: write harness sweep --report "
        "(read until dq-harness 0.3.0)"
    )
    assert err[1].startswith("harness: error: --seeds") and not out.exists()
