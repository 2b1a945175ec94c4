"""``harness fakes serve``: run one HTTP fake on a real port with the real clock.

Useful for poking a fake with curl or pointing a development platform at it. Prints the URL and
the credentials, logs one line per request (from the effect ledger), and stops cleanly (exit 0)
on Ctrl+C or SIGTERM. A bad fault plan is a one-line error and exit 2, before anything listens.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from harness.errors import HarnessError

FAKES = ("virtualmin", "payments", "registrar")


def register(sub: argparse._SubParsersAction) -> None:
    fakes = sub.add_parser("fakes", help="run the HTTP fakes (Virtualmin, payments, registrar)")
    fsub = fakes.add_subparsers(dest="fakes_command", required=True, parser_class=type(fakes))
    serve = fsub.add_parser("serve", help="serve one fake on a real port until Ctrl+C")
    serve.add_argument("fake", choices=FAKES, help="which fake to serve")
    serve.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--plan", help="fault plan (.toml or .json); relative times start now")
    serve.add_argument(
        "--seed", type=int, default=0, help="seed for the fault plan's dice (default 0)"
    )
    serve.add_argument(
        "--hold-seconds",
        type=float,
        default=1.0,
        help="how long read_timeout/lost_response faults hold a request before dropping it",
    )
    serve.add_argument("--webhook-url", help="payments only: where to POST signed webhook events")
    serve.add_argument("--quiet", action="store_true", help="do not log requests")
    serve.set_defaults(handler=_cmd_serve)


def _build(args: argparse.Namespace, now: Any, ledger: Any, faults: Any) -> tuple[Any, list[str]]:
    """The WSGI app plus the banner lines that tell a human how to talk to it."""
    if args.fake == "virtualmin":
        from harness.fakes.virtualmin import (
            API_PATH,
            DEFAULT_PASSWORD,
            DEFAULT_USERNAME,
            FakeVirtualmin,
        )

        app = FakeVirtualmin(ledger, now, faults)
        return app, [
            f"API: {{url}}{API_PATH}?program=info&json=1",
            f"credentials: {DEFAULT_USERNAME}:{DEFAULT_PASSWORD} (HTTP Basic)",
        ]
    if args.fake == "payments":
        from harness.fakes.payments import DEFAULT_SECRET_KEY, DEFAULT_WEBHOOK_SECRET, FakePayments

        app = FakePayments(ledger, now, faults, webhook_url=args.webhook_url)
        lines = [
            "API: {url}/v1 (point stripe at it: StripeClient(key, base_addresses={{'api': url}}))",
            f"secret key: {DEFAULT_SECRET_KEY} (Authorization: Bearer)",
        ]
        if args.webhook_url:
            lines.append(f"webhooks: {args.webhook_url} signed with {DEFAULT_WEBHOOK_SECRET}")
        return app, lines
    from harness.fakes.registrar import DEFAULT_TOKEN, FakeRegistrar

    app = FakeRegistrar(ledger, now, faults)
    return app, ["API: {url}/v5/domain/...", f"token: {DEFAULT_TOKEN} (Authorization: Bearer)"]


def _check_port(host: str, port: int) -> None:
    """Fail with one line (not werkzeug's multi-line exit) when the port is taken."""
    if port == 0:
        return
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise HarnessError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _log_line(entry: Any) -> str:
    fields = {
        "at": entry.at.isoformat(timespec="seconds"),
        "op": entry.operation,
        "key": entry.business_key,
        "status": entry.status,
        "effect": entry.effect,
        "fault": entry.fault,
    }
    return json.dumps({k: v for k, v in fields.items() if v is not None}, ensure_ascii=False)


def _cmd_serve(args: argparse.Namespace) -> int:
    from harness.fakes.faults import FaultInjector, FaultPlan, FaultPlanError
    from harness.fakes.ledger import Ledger
    from harness.fakes.transport import serve

    def now() -> datetime:
        return datetime.now(UTC)

    faults = None
    if args.plan:
        try:
            faults = FaultInjector(FaultPlan.load(args.plan), seed=args.seed, origin=now())
        except FaultPlanError as exc:
            raise HarnessError(str(exc)) from None
    if not 0 <= args.port <= 65535:
        raise HarnessError(f"--port: {args.port} is not a TCP port")
    _check_port(args.host, args.port)

    ledger = Ledger(now)
    app, banner = _build(args, now, ledger, faults)
    if not args.quiet:
        ledger.subscribe(lambda e: print(_log_line(e), flush=True))

    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        served = serve(app, args.host, args.port, hold_seconds=args.hold_seconds)
        try:
            print(f"{args.fake} fake listening on {served.url}", flush=True)
            for line in banner:
                print("  " + line.format(url=served.url), flush=True)
            if args.plan:
                print(f"  fault plan: {args.plan} (seed {args.seed})", flush=True)
            print("Press Ctrl+C to stop.", flush=True)
            while not stop.wait(0.2):
                pass
        finally:
            served.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"{args.fake} fake stopped ({len(ledger)} requests served)", file=sys.stderr)
    return 0
