"""``harness fakes serve`` as a real subprocess: banner, curl, clean stop, bad plans."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "fakes", "serve", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _banner(proc: subprocess.Popen[str]) -> list[str]:
    assert proc.stdout is not None
    lines = []
    while True:
        line = proc.stdout.readline()
        assert line, f"server exited early: {proc.stderr.read() if proc.stderr else ''}"
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl+C"):
            return lines


def _get(url: str) -> tuple[int, dict[str, object]]:
    """curl when the machine has it (the acceptance criterion), else requests."""
    curl = shutil.which("curl")
    if curl:
        out = subprocess.run(
            [curl, "-s", "-w", "\n%{http_code}", "-u", "admin:secret", url],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        body, _, code = out.rpartition("\n")
        return int(code), json.loads(body)
    resp = requests.get(url, auth=("admin", "secret"), timeout=10)
    return resp.status_code, resp.json()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_virtualmin_answers_curl_and_stops_cleanly(sig: signal.Signals) -> None:
    port = _free_port()
    proc = _start("virtualmin", "--port", str(port))
    try:
        banner = _banner(proc)
        assert banner[0] == f"virtualmin fake listening on http://127.0.0.1:{port}"
        assert "credentials: admin:secret (HTTP Basic)" in "\n".join(banner)
        status, body = _get(
            f"http://127.0.0.1:{port}/virtual-server/remote.cgi?program=info&json=1"
        )
        assert status == 200
        assert body["command"] == "info" and body["status"] == "success"
        assert isinstance(body["data"], dict)
        log = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        assert (log["op"], log["status"]) == ("info", 200)
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped (1 requests served)" in err
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=1)


def test_bad_plan_is_one_line_exit_2_and_nothing_served(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text('[[rules]]\ntype = "error"\nprobability = 7\n')
    port = _free_port()
    proc = _start("payments", "--port", str(port), "--plan", str(plan))
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "rules[0].probability: 7 is outside [0, 1]" in lines[0]


def test_port_in_use_is_one_line_exit_2() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = _start("registrar", "--port", str(port))
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and f"cannot listen on 127.0.0.1:{port}" in err


def test_serve_payments_with_a_plan_for_the_stripe_sdk(tmp_path: Path) -> None:
    import stripe

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"rules": [{"type": "rate_limit", "max_count": 1}]}))
    proc = _start("payments", "--plan", str(plan), "--seed", "7", "--quiet")
    try:
        banner = _banner(proc)
        url = banner[0].rsplit(" ", 1)[1]
        assert "secret key: sk_test_dqharness" in "\n".join(banner)
        client = stripe.StripeClient(
            "sk_test_dqharness", base_addresses={"api": url}, max_network_retries=0
        )
        with pytest.raises(stripe.RateLimitError):
            client.v1.customers.create(params={"email": "a@example.ro"})
        assert client.v1.customers.create(params={"email": "a@example.ro"}).id.startswith("cus_")
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped (2 requests served)" in err


def test_serve_registrar_banner_and_token() -> None:
    proc = _start("registrar", "--quiet")
    try:
        banner = _banner(proc)
        url = banner[0].rsplit(" ", 1)[1]
        assert banner[1] == f"  API: {url}/v5/domain/..."
        resp = requests.get(
            url + "/v5/domain/check?name=shop.ro",
            headers={"Authorization": "Bearer pat_dqharness"},
            timeout=5,
        )
        assert resp.json()["products"][0]["status"] == "available"
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
