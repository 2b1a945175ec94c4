"""The pytest plugin: a user's scenario test is about five lines."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.dbpath


@pytest.mark.scenario("queue-limit-saturation", until="30m")
def test_a_scenario_in_five_lines(scenario):
    assert scenario.ok, scenario.explain()
    assert (
        scenario.stats["apps.provisioning.virtualmin_tasks.provision_virtualmin_account"]["runs"]
        >= 20
    )


def test_the_same_seed_gives_the_same_bytes(run_scenario):
    a = run_scenario("queue-limit-saturation", until="15m")
    b = run_scenario("queue-limit-saturation", until="15m")
    assert a.timeline.dumps() == b.timeline.dumps()
    c = run_scenario("queue-limit-saturation", seed=99, until="15m")
    assert c.timeline.dumps() != a.timeline.dumps()
