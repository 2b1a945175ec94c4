"""The public API is what docs/api.md says, and each concept has one spelling everywhere.

The tables are read from docs/api.md; the surfaces from the code itself: every TOML key the
scenario parser and the fault plans read (a maximal scenario parsed with readers that remember
what they were asked), every flag of every command (the argparse tree), the keywords of the
markers and public functions (their signatures), and the dataclasses' fields.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import harness
from harness import options as options_module
from harness.checkers import CHECKERS
from harness.fakes import faults
from harness.scenario import FakeSpec, LoadSpec, Scenario, SetupStep, parse
from harness.sim.cluster import SETTINGS, ClusterSpec
from harness.sim.simulation import Simulation

ROOT = Path(__file__).resolve().parents[2]
API = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
CODE = re.compile(r"`([^`]+)`")


def _table(heading: str) -> list[list[str]]:
    """The rows of the first table under ``heading`` (cells as text, header dropped)."""
    section = API.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def _items(cell: str) -> list[str]:
    return CODE.findall(cell)


SPELLINGS = _table("One spelling per concept")  # concept | name | TOML | CLI | keyword | attr


# -- the export list --------------------------------------------------------------------------
def test_harness_exports_exactly_what_the_doc_lists():
    documented = [_items(row[0])[0] for row in _table("What `harness` exports")]
    assert sorted(documented) == harness.__all__
    for name in harness.__all__:
        assert getattr(harness, name) is not None, name


def test_the_documentation_imports_only_public_names():
    """What a user copies from the docs imports the public surface only."""
    public = re.compile(r"from harness(\.fakes|\.search\.strategies)? import")
    docs = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "examples").rglob("*.py")]
    contributors = {"architecture.md", "driver.md", "benchmarks.md"}  # the house, not the API
    bad = []
    for path in docs:
        if path.name in contributors:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found = re.search(r"\bfrom harness[\w.]* import|\bimport harness\.", line)
            if found and not public.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert bad == []


# -- the spelling table against the parsers ----------------------------------------------------
def _toml_read() -> set[str]:
    """Every key the scenario parser reads, from a scenario that has every table once."""
    readers: list[options_module.OptionsReader] = []
    original = options_module.OptionsReader.__init__

    def remember(self, *args, **kwargs):
        original(self, *args, **kwargs)
        readers.append(self)

    text = """
        name = "all"
        description = "every key once"
        settings = "tests.settings"
        start = 2026-03-01T00:00:00Z
        time_zone = "UTC"
        duration = "2d"
        seed = 1
        database = "harness"
        project_root = "."
        paths = ["."]
        watchdog = "5s"
        lock_helpers = ["tests.fixture_apps.locks.project_lock"]
        gate_until = "1d"
        setup = ["migrate", { call = "a.b", args = [], kwargs = {} }]
        [cluster]
        downtime = [{ start = "1h", end = "2h" }]
        [[clusters]]
        name = "other"
        downtime = []
        [override_settings]
        FLAG = true
        [durations]
        default = "1s"
        per_func = { "a.b" = "2s" }
        [runaway]
        max_chain = 5
        [startup]
        ready = ["billing"]
        [[load]]
        call = "a.b"
        per_day = 3
        shape = "flat"
        start = "1h"
        end = "2h"
        count = 1
        spread = "1m"
        allow_failures = 0
        [[load]]
        name = "l2"
        call = "a.b"
        every = "1h"
        [[load]]
        name = "l3"
        call = "a.b"
        at = ["1h"]
        [[load]]
        name = "l4"
        call = "a.b"
        cron = "0 * * * *"
        [fakes.payments]
        url = "https://pay.test"
        webhook_path = "/hook"
        faults = [{ type = "error", fake = "payments" }]
        [expect]
        checks = ["lost-jobs"]
        [[expect.custom]]
        call = "a.b:c"
        name = "mine"
        options = {}
    """
    import tomllib

    data = tomllib.loads(text.replace("\n        ", "\n"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(options_module.OptionsReader, "__init__", remember)
        parse(data, str(ROOT / "tests" / "scenarios" / "all.toml"))
    data_tables = {"override_settings", "durations.per_func", "fakes"}  # their keys are data
    keys = set().union(*(r.seen for r in readers if r.where not in data_tables))
    rule_keys = set(faults._COMMON_KEYS).union(*faults._TYPE_KEYS.values())
    return keys | rule_keys


def _toml_parts(item: str) -> set[str]:
    """``[[load]] start`` → {load, start}; ``faults[] mode`` → {faults, mode}."""
    return {p for p in re.split(r"[\[\]. =]+", item) if p and p not in ("NAME",)} - {"…"}


def test_every_toml_key_the_parsers_read_is_in_the_table_and_nothing_else():
    read = _toml_read()
    listed = set().union(*(_toml_parts(i) for row in SPELLINGS for i in _items(row[2])))
    assert sorted(read - listed) == []  # a key with no row
    assert sorted(listed - read - {"expect", "custom", "locks"}) == []  # a row with no key


def _flags() -> dict[str, list[argparse.Action]]:
    from harness.cli import _REGISTRY, _load_subcommands, build_parser

    _REGISTRY.clear()
    _load_subcommands()
    found: dict[str, list[argparse.Action]] = {}

    def walk(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    walk(sub)
            elif action.option_strings and action.help is not argparse.SUPPRESS:
                for flag in action.option_strings:
                    if flag not in ("-h", "--help"):
                        found.setdefault(flag, []).append(action)

    walk(build_parser())
    return found


def test_every_flag_is_in_the_table_and_means_one_thing():
    flags = _flags()
    listed = {i.split()[0] for row in SPELLINGS for i in _items(row[3]) if i.startswith("-")}
    assert sorted(set(flags) ^ listed) == []
    for flag, actions in flags.items():  # one flag, one meaning: the same dest and type
        assert len({(a.dest, a.type) for a in actions}) == 1, flag


def _keywords() -> set[str]:
    from harness.pytest.fixtures import RunScenario
    from harness.pytest.markers import SCENARIO_OPTIONS, qsim_options

    found = set(qsim_options()) | set(SCENARIO_OPTIONS)
    for fn in (RunScenario.__call__, harness.replay, harness.explore):
        found |= set(inspect.signature(fn).parameters) - {"self"}
    return found


def _callable_params(spec: str) -> set[str] | None:
    """``Durations(default=)`` → Durations' parameters; None for a plain ``name=``."""
    if "(" not in spec:
        return None
    owner = spec.split("(")[0]
    target = {
        "Durations": harness.Durations,
        "RunawayBudget": harness.RunawayBudget,
        "FaultSpace.of": harness.FaultSpace.of,
        "serve": harness.fakes.serve,
    }[owner]
    return set(inspect.signature(target).parameters)


def test_every_keyword_is_in_the_table_and_every_listed_one_exists():
    import harness.fakes  # noqa: F401  (serve)

    keywords = _keywords()
    plain, qualified = set(), []
    for row in SPELLINGS:
        for item in _items(row[4]):
            params = _callable_params(item)
            if params is None:
                plain.add(item.rstrip("="))
            else:
                qualified.append((item, params))
    assert sorted(keywords ^ plain) == []
    for item, params in qualified:
        assert re.search(r"\((\w+)=\)", item).group(1) in params, item


def test_every_field_of_the_scenario_dataclasses_is_in_the_table():
    listed = {i for row in SPELLINGS for i in _items(row[5])}
    for cls in (Scenario, LoadSpec, FakeSpec, SetupStep):
        for f in dataclasses.fields(cls):
            assert f"{cls.__name__}.{f.name}" in listed, f"{cls.__name__}.{f.name}"
    sim = Simulation(datetime(2026, 1, 5, tzinfo=UTC))  # constructed, not opened
    owners = {"Simulation": sim, "RunResult": harness.RunResult, "Fault": harness.fakes.Fault}
    owners |= {c.__name__: c for c in (Scenario, LoadSpec, FakeSpec, SetupStep)}
    owners["RunawayBudget"] = harness.RunawayBudget
    for item in listed:
        owner, attr = item.split(".")
        target = owners[owner]
        fields = (
            {f.name for f in dataclasses.fields(target)}
            if dataclasses.is_dataclass(target)
            else set()
        )
        assert attr in fields or hasattr(target, attr), item


def _names(surface: int, item: str) -> set[str]:
    """The names an item of one surface may stand for (docs/api.md's rules)."""
    if surface == 2:  # TOML: the key, or table_key
        parts = [p for p in re.split(r"[\[\]. =]+", item) if p and p != "NAME"]
        return {parts[-1], "_".join(parts[-2:])}
    if surface == 3:  # CLI
        words = item.split()
        if words[0] == "-n":
            return {"workers"}
        if words[0].isupper():
            return {words[0].lower()}
        flag = words[0].lstrip("-").removeprefix("no-").replace("-", "_")
        return {flag, f"{words[1]}_{flag}"} if len(words) > 1 else {flag}
    name = re.sub(r".*\((\w+)=\)$", r"\1", item).rstrip("=")  # keyword
    name = name.split(".")[-1]  # attribute
    return {name, name.removesuffix("s"), *(name.split("_", 1)[1:])}


def test_each_row_spells_its_concept_by_its_one_name():
    wrong = []
    for row in SPELLINGS:
        name = row[1]
        for surface in (2, 3, 4, 5):
            for item in _items(row[surface]):
                if name not in _names(surface, item):
                    wrong.append(f"{row[0]}: {item!r} is not spelled {name!r}")
    assert wrong == []


def test_cluster_settings_and_checker_options_keep_their_names():
    """``[cluster] retry`` is ``ClusterSpec.retry``; ``[expect.<name>] key`` is the checker's
    ``Options.key`` (task-metrics keys its options by glob)."""
    fields = {f.name for f in dataclasses.fields(ClusterSpec)}
    assert {s.field for s in SETTINGS} <= fields
    for name, checker in CHECKERS.items():
        if name == "task-metrics":
            continue
        reader = options_module.OptionsReader("<t>", {}, f"expect.{name}")
        found = checker.options(reader)
        names = {f.name for f in dataclasses.fields(found)}
        for f in dataclasses.fields(found):  # a field grouping keys: its own fields
            value = getattr(found, f.name)
            if dataclasses.is_dataclass(value):
                names |= {g.name for g in dataclasses.fields(value)}
        assert reader.seen <= names, name


# -- old spellings ---------------------------------------------------------------------------
def test_the_old_spellings_are_the_ones_the_code_still_reads():
    from harness import spellings

    documented = {tuple(_items(c)[0] for c in row) for row in _table("Old spellings")}
    code = {**spellings.TOML, **spellings.FLAGS, **spellings.KEYWORDS, **spellings.NAMES}
    assert documented == set(code.items())
