"""The HTML report is self-contained and opens in headless Chromium without console errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.report import write_html

pytestmark = pytest.mark.dbpath
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def report(tmp_path_factory, django_db_blocker):
    from harness.run import runner
    from harness.scenario import read

    with django_db_blocker.unblock():
        result = runner.run(read(str(HERE / "tiny.toml")))
    return write_html(result, tmp_path_factory.mktemp("report")), result


def test_report_is_self_contained(report):
    path, result = report
    text = path.read_text()
    assert "<svg" in text and "swimlanes" in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "<script" not in text
    assert result.command in text
    for func in result.stats:
        assert func in text
    for verdict in result.verdicts:
        assert verdict.name in text
    assert "faulted calls (2)" in text  # the two injected 503s are drawn


def test_report_opens_in_chromium_without_console_errors(report, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("chromium is not installed (make test installs it: tools/ensure-chromium)")
    path, _ = report
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--hide-scrollbars",
            "--window-size=1400,1200",
            f"--screenshot={shot}",
            "--enable-logging=stderr",
            "--v=0",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 10_000
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
