"""Every shipped scenario holds every check and replays its golden timeline byte for byte.

Each replays up to its ``gate_until`` (the golden's horizon) on a fresh database; the full
durations run from ``harness replay`` and ``make demo``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.scenario import golden_path, load, shipped
from harness.timeline import first_divergence

pytestmark = pytest.mark.dbpath
NAMES = list(shipped())


def test_the_seven_scenarios_are_shipped():
    assert set(NAMES) >= {
        "month-in-production",
        "virtualmin-outage-retry-storm",
        "payment-decline-storm",
        "dst-transitions",
        "cluster-downtime-catch-up",
        "queue-limit-saturation",
        "lost-response",
    }


@pytest.mark.parametrize("name", NAMES)
def test_shipped_scenario_holds_and_matches_its_golden(name, run_scenario):
    scenario = load(name)
    until = scenario.start + scenario.gate_until if scenario.gate_until else None
    result = run_scenario(scenario, until=until)
    assert result.ok, result.explain()
    expected = golden_path(name).read_text(encoding="utf-8").splitlines()
    div = first_divergence(expected, result.timeline.dumps().splitlines())
    assert div is None, f"line {div.line}:\n- {div.expected}\n+ {div.actual}"


def test_spring_forward_exposes_the_platforms_0330_drift(run_scenario):
    """A real finding: 03:30 does not exist on 29 March 2026 in Bucharest; the platform's first
    run is 04:30 EEST and Django-Q2's DAILY arithmetic then keeps 04:30 for good."""
    result = run_scenario(str(Path(__file__).parent / "dst-spring-forward.toml"))
    failed = {v.name for v in result.failed}
    assert failed == {"schedule-adherence"}
    v = result.verdict("schedule-adherence")
    assert "customers-inactive-cleanup" in v.message
    assert any("2026-03-30 03:30:00 EEST never fired" in e for e in v.evidence)
    assert all("billing-daily-invoices" not in e for e in v.evidence)  # 02:00 survives DST
