"""Render the ops dashboard after a replayed scenario, and open it in headless Chromium.

Shared by ``tests/apps/test_dashboard.py`` and ``tools/dashboard-screenshot`` (the picture in
docs/platform.md): the page a staff user gets at the scenario's end, under its virtual clock.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any


def replay_and_render(ref: str, until: str | None = None) -> tuple[Any, bytes, bytes]:
    """Replay ``ref`` on a fresh database, then GET /ops/dashboard/ and /ops/metrics as staff
    at the run's last instant. Returns (result, dashboard HTML, metrics text)."""
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    from harness import VirtualClock
    from harness.infra.freshdb import fresh_database
    from harness.run import runner
    from harness.scenario import parse_until, read

    scenario = read(ref)
    runner.ensure_django(None, scenario)
    with fresh_database():
        result = runner.replay_here(scenario, until=parse_until(until, scenario))
        # under the scenario's own settings (a feature flag the page reads too) and clock
        with VirtualClock(result.end), override_settings(**scenario.override_settings):
            staff = get_user_model().objects.create_user("ops", password="x", is_staff=True)
            client = Client(HTTP_HOST="localhost")  # in ALLOWED_HOSTS, also outside pytest
            client.force_login(staff)
            page = client.get("/ops/dashboard/")
            text = client.get("/ops/metrics")
    assert page.status_code == 200 and text.status_code == 200, (
        page.status_code,
        text.status_code,
        text.content[:300],
    )
    return result, page.content, text.content


def chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise RuntimeError(
            "chromium is not installed (make test installs it: tools/ensure-chromium)"
        )
    return browser


def open_in_chromium(path: Path, screenshot: Path | None = None, width: int = 1400) -> str:
    """The DOM Chromium built from ``path`` (``--dump-dom``); a full-page screenshot too."""
    base = [chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars"]
    dom = subprocess.run(
        [*base, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=90
    )
    if dom.returncode != 0:
        raise RuntimeError(dom.stderr[-2000:])
    if screenshot is not None:
        shot = subprocess.run(
            [*base, f"--window-size={width},1800", f"--screenshot={screenshot}", path.as_uri()],
            capture_output=True,
            text=True,
            timeout=90,
        )
        if shot.returncode != 0:
            raise RuntimeError(shot.stderr[-2000:])
    return dom.stdout
