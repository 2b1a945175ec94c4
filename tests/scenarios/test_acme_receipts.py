"""examples/acme, unmodified: its SSRF-guarded mail client reaches its own fake (declared by
dotted path) through the harness's DNS answers, and nothing else is reachable.

Each test is a real ``harness`` process started in the project's root, as its developers run
it (``--database harness``: the harness's PostgreSQL, a fresh database per replay).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.dbpath

ACME = Path(__file__).resolve().parents[2] / "examples" / "acme"
HARNESS = Path(sys.executable).parent / "harness"


def _replay(ref: str, out: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env.pop("HARNESS_SCENARIOS", None)
    proc = subprocess.run(
        [str(HARNESS), "replay", ref, "--database", "harness", "--no-progress", "--json", str(out)],
        cwd=ACME,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc, json.loads(out.read_text())


def _verdicts(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in result["verdicts"]}


def _mail(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in result["record"]["ledger"] if e["fake"] == "mailer"]


def test_acme_sends_one_receipt_per_charge_through_its_pinned_client(tmp_path):
    proc, result = _replay("receipts", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stdout
    charged = [e for e in result["record"]["ledger"] if e["effect"] == "charge.succeeded"]
    mail = _mail(result)
    assert len(charged) == 7 and len(mail) == 7  # one card of eight is declined
    assert {e["effect"] for e in mail} == {"message.sent"} and {e["status"] for e in mail} == {200}
    # acme resolved the name itself, checked the address is public and sent to it
    (address,) = {e["detail"]["address"] for e in mail}
    assert address.startswith("192.88.99.")
    events = [json.loads(line) for line in result["record"]["timeline"]]
    tasks = {e["task"] for e in events if e.get("func", "").endswith("send_receipt")}
    assert {e["task_id"] for e in mail} <= tasks and {e["attempt"] for e in mail} == {1}
    assert not result["record"]["findings"]
    assert "fakes.mailer.api_key" in result["record"]["snapshot"]["secrets"]


def test_a_lost_answer_makes_acme_send_one_receipt_twice(tmp_path):
    proc, result = _replay("receipts-lost-response", tmp_path / "r.json")
    assert proc.returncode == 1
    verdicts = _verdicts(result)
    failed = {name for name, v in verdicts.items() if not v["ok"]}
    assert failed == {"duplicate-effects"}, verdicts
    lost = next(e for e in _mail(result) if e["fault"] == "lost_response")
    message = verdicts["duplicate-effects"]["message"]
    assert f"mailer message.sent for {lost['business_key']!r} happened 2×" in message
    again = [e for e in _mail(result) if e["business_key"] == lost["business_key"]]
    assert [e["task_id"] for e in again] == [lost["task_id"]] * 2  # acme's own retry, one task


def test_acme_reaches_no_other_host(tmp_path):
    """The mail provider moved (a setting) but the fake did not: every lookup is refused."""
    source = (ACME / "scenarios" / "receipts.toml").read_text()
    source = source.replace(
        'url = "{settings.MAILER_API_BASE}"', 'url = "https://api.mailer.example"'
    )
    source = source.replace("customers = 8, declining = 1", "customers = 1, declining = 0")
    source = source.replace('duration = "12h"', 'duration = "4h10m"')  # renewals run at 04:00
    scenario = tmp_path / "moved.toml"
    scenario.write_text(
        f"project_root = {str(ACME)!r}\n{source}\n"
        '[override_settings]\nMAILER_API_BASE = "https://api.other-mailer.example"\n'
    )
    proc, result = _replay(str(scenario), tmp_path / "r.json")
    assert proc.returncode == 1
    verdict = _verdicts(result)["driver-findings"]
    assert not verdict["ok"] and "destination=api.other-mailer.example:443" in verdict["message"]
    assert not _mail(result)
    assert all(
        f["destination"] == "api.other-mailer.example:443" for f in result["record"]["findings"]
    )
