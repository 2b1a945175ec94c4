"""``python manage.py dev``: the seed's "Local Development Setup" in one command (``make dev``).

1. 🗄️ migrations (and the cache table)      4. 🚀 ``qcluster`` in the background → ``django_q.log``
2. 🔧 demo data                              5. 🌐 development server on port 8001
3. ⚙️ scheduled task creation                6. 🛑 clean shutdown of both on Ctrl+C

If the ``fakes`` package is importable (it is dev tooling, so this runner may use it; the apps
never do), fake Virtualmin, payments and registrar servers are started on free local ports and
their real URLs are passed to the children through the environment. Otherwise the configured
URLs are used as they are.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.common.queues import PRIORITY_AREAS

STOP_GRACE_SECONDS = 10


def start_fakes(env: dict[str, str], web_port: int) -> tuple[list[Any], dict[str, str]]:
    """Serve the fakes over real HTTP; returns the servers and the URLs they answer on."""
    try:
        from harness.fakes.ledger import Ledger
        from harness.fakes.payments import FakePayments
        from harness.fakes.registrar import FakeRegistrar
        from harness.fakes.transport import serve
        from harness.fakes.virtualmin import FakeVirtualmin
    except ImportError:
        return [], {}
    ledger = Ledger(timezone.now)
    vm = serve(FakeVirtualmin(ledger, timezone.now, username="admin", password="secret"))
    pay = serve(
        FakePayments(
            ledger,
            timezone.now,
            secret_key=settings.STRIPE_SECRET_KEY,
            webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
            webhook_url=f"http://127.0.0.1:{web_port}/webhooks/stripe/",
        )
    )
    reg = serve(FakeRegistrar(ledger, timezone.now, token=settings.REGISTRAR_API_TOKEN))
    urls = {
        "VIRTUALMIN_DEV_URL": vm.url,
        "STRIPE_API_BASE": pay.url,
        "REGISTRAR_API_BASE": f"{reg.url}/v5",
    }
    env.update(urls)
    return [vm, pay, reg], urls


class Command(BaseCommand):
    help = "Migrate, seed, set up schedules, run qcluster and the dev server; Ctrl+C stops all"

    # Each child runs in its own process group: Ctrl+C reaches only this runner, which then
    # stops every group in order and can kill a group wholesale.

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--log-file", default="django_q.log")
        parser.add_argument("--no-fakes", action="store_true", help="use the configured URLs")

    def handle(self, *args: Any, **options: Any) -> None:
        port, manage = options["port"], str(Path(settings.BASE_DIR) / "manage.py")
        env = dict(os.environ, DJANGO_SETTINGS_MODULE=os.environ["DJANGO_SETTINGS_MODULE"])
        fakes, urls = ([], {}) if options["no_fakes"] else start_fakes(env, port)
        for name, url in urls.items():
            self.stdout.write(f"🧪 {name}={url}")

        self.stdout.write("🗄️ Running migrations...")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        self.stdout.write("🔧 Setting up demo data...")
        seed = {"virtualmin_url": urls["VIRTUALMIN_DEV_URL"]} if urls else {}
        call_command("seed_demo_data", stdout=self.stdout, **seed)
        self.stdout.write("⚙️ Creating scheduled tasks...")
        call_command("setup_all_tasks", stdout=self.stdout)

        children: list[subprocess.Popen[bytes]] = []
        died: list[str] = []
        stopping = False

        def request_stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        log = open(options["log_file"], "ab")  # noqa: SIM115 - closed in finally
        try:
            self.stdout.write(f"🚀 Starting Django-Q2 workers (log: {options['log_file']})")
            children.append(
                subprocess.Popen(
                    [sys.executable, manage, "qcluster"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    process_group=0,
                )
            )
            for area in PRIORITY_AREAS if settings.PRAHO_PRIORITY_CLUSTERS else ():
                self.stdout.write(f"🚀 Starting the {area} cluster")
                children.append(
                    subprocess.Popen(
                        [sys.executable, manage, "qcluster"],
                        env={**env, "Q_CLUSTER_NAME": area},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        process_group=0,
                    )
                )
            self.stdout.write(f"🌐 Development server on http://127.0.0.1:{port}/")
            children.append(
                subprocess.Popen(
                    [sys.executable, manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
                    env=env,
                    process_group=0,
                )
            )
            self.stdout.write(
                f"📊 Task dashboard on http://127.0.0.1:{port}/ops/dashboard/ "
                "(log in as admin / $DEV_ADMIN_PASSWORD, default admin); "
                f"Prometheus text at http://127.0.0.1:{port}/ops/metrics"
            )
            self.stdout.write("✅ Ready. Press Ctrl+C to stop.")
            self.stdout.flush()
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.2)
            died = [str(c.args[2]) for c in children if not stopping and c.poll() is not None]
        finally:
            self.stdout.write("🛑 Stopping workers and server...")
            _stop(children)
            for server in fakes:
                server.stop()
            log.close()
            self.stdout.write("👋 Stopped.")
        if died:
            raise CommandError(f"{', '.join(died)} exited unexpectedly; see {options['log_file']}")


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signum)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGINT to each child's process group (qcluster stops its workers gracefully), then
    SIGKILL the whole group if it overstays, so no worker is ever left behind."""
    for child in children:
        _signal_group(child, signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        _signal_group(child, signal.SIGKILL)  # stragglers in its group (e.g. orphaned workers)
