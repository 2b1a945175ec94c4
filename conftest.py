"""Repository-wide pytest setup.

The harness's own fixtures come from its pytest11 plugin (``harness.pytest.plugin``); this file
only holds what is specific to testing this repository.
"""

from __future__ import annotations

import os
from pathlib import Path

# The reference platform lives in reference/ and is not installed: pytest finds it through the
# ``pythonpath`` ini option; processes the tests start (qcluster, manage.py, harness) through
# PYTHONPATH. The harness finds the repository's scenarios (scenarios/) by name through
# HARNESS_SCENARIOS, whatever directory a test runs it from.
_REPO = Path(__file__).resolve().parent
_REFERENCE = _REPO / "reference"
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(_REFERENCE), os.environ.get("PYTHONPATH", "")) if p
)
os.environ.setdefault("HARNESS_SCENARIOS", str(_REPO / "scenarios"))

# The embedded server's lock lives in the runtime dir; give platformdirs one so that it does not
# warn (which would break ``-W error``) and so every process agrees on the same path.
os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
os.makedirs(os.environ["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)

# Hypothesis profiles (docs/properties.md): ``ci`` is the default, quick enough for ``make test``;
# ``thorough`` (``make explore``, or HYPOTHESIS_PROFILE=thorough) searches much harder. Neither
# keeps an example database; ``ci`` is derandomized, so a red CI run is red again locally.
from hypothesis import HealthCheck, settings  # noqa: E402

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=_SLOW_OK,
    stateful_step_count=20,
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=_SLOW_OK,
    stateful_step_count=50,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items) -> None:  # type: ignore[no-untyped-def]
    """Real-time tests first (marked ``slow``: real qcluster subprocesses). They mostly wait on
    a real clock; started first, under pytest-xdist their waits overlap the other worker's
    CPU-bound replays instead of ending the run alone. The order is otherwise unchanged."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
