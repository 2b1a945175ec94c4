"""Where scenarios live: names looked up in the project's ``scenarios/`` folder, paths, goldens."""

from __future__ import annotations

import tomllib
from pathlib import Path

from harness.scenario.model import Scenario, ScenarioError
from harness.scenario.parse import parse

SCENARIOS_ENV = "HARNESS_SCENARIOS"


def scenario_dirs() -> list[Path]:
    """Where scenario names are looked up: ``$HARNESS_SCENARIOS`` (os.pathsep-separated), else
    ``scenarios/`` in the current directory (the project root, as for ``manage.py``)."""
    import os

    configured = os.environ.get(SCENARIOS_ENV, "")
    if configured.strip():
        return [Path(p).expanduser() for p in configured.split(os.pathsep) if p.strip()]
    return [Path.cwd() / "scenarios"]


def shipped() -> dict[str, Path]:
    """The project's named scenarios (``*.toml`` in :func:`scenario_dirs`): name → file.

    The first directory that has a name wins."""
    found: dict[str, Path] = {}
    for folder in scenario_dirs():
        if folder.is_dir():
            for p in sorted(folder.glob("*.toml")):
                found.setdefault(p.stem, p)
    return dict(sorted(found.items()))


def golden_path(scenario_file: str | Path) -> Path:
    """Where a scenario's golden timeline lives: ``golden/<stem>.jsonl`` beside its file."""
    path = Path(scenario_file)
    return path.parent / "golden" / f"{path.stem}.jsonl"


def locate(ref: str | Path) -> Path:
    """A scenario name (looked up in :func:`scenario_dirs`) or a path → its file."""
    text_ref = str(ref)
    named = shipped()
    if text_ref in named and not text_ref.endswith(".toml"):
        return named[text_ref]
    path = Path(text_ref)
    if not path.exists():
        where = ", ".join(str(d) for d in scenario_dirs())
        names = ", ".join(named) or "none"
        raise ScenarioError(
            text_ref, "", f"no such file, and no scenario by that name in {where} (found: {names})"
        )
    return path


def read(ref: str | Path) -> Scenario:
    """A scenario by name (see :func:`scenario_dirs`) or a path to any TOML file."""
    path = locate(ref)
    named = str(ref) in shipped() and not str(ref).endswith(".toml")
    source = _display(path) if named else str(ref)  # messages name the file as the user did
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, "", f"cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "", f"TOML syntax error: {str(exc).splitlines()[0]}") from None
    return parse(data, source, name=path.stem)


def _display(path: Path) -> str:
    """A path as messages show it: relative to the current directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
