"""A stateful fake of Virtualmin's remote API (``/virtual-server/remote.cgi``).

It speaks what PRAHO's gateway sends: ``GET remote.cgi?program=<cmd>&json=1&...`` with HTTP Basic
auth, answered with the real JSON envelopes (``status`` success/failure, ``output``/``data``/
``error``). One instance can stand for several Virtualmin servers: state is kept per hostname,
taken from the request's ``Host`` header, so ``vm1`` and ``vm2`` have independent domains and
health. Passwords (``pass=``) never reach the ledger.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request

from harness.fakes.base import Attribution, Call, FakeApp, Reply
from harness.fakes.faults import Fault, FaultInjector
from harness.fakes.ledger import Ledger
from harness.fakes.operations import VIRTUALMIN, VIRTUALMIN_OPERATIONS

API_PATH = "/virtual-server/remote.cgi"
DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "secret"
DEFAULT_TEMPLATES = ("Default Settings", "Sub-Servers")

_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_REDACTED = frozenset({"pass", "password", "passfile"})
_MUTATING = {
    "create-domain": "domain.created",
    "delete-domain": "domain.deleted",
    "disable-domain": "domain.disabled",
    "enable-domain": "domain.enabled",
}


@dataclass
class VirtualDomain:
    """One virtual server (a hosted domain) on a Virtualmin host."""

    name: str
    user: str
    template: str
    quota: int | None = None
    bw_limit: int | None = None
    comment: str | None = None
    enabled: bool = True
    created_at: datetime | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    disk_used_mb: int = 0


@dataclass
class VirtualminServer:
    """The state of one Virtualmin host: its domains, templates, health and domain limit."""

    hostname: str
    domains: dict[str, VirtualDomain] = field(default_factory=dict)
    templates: tuple[str, ...] = DEFAULT_TEMPLATES
    healthy: bool = True
    max_domains: int | None = None


class FakeVirtualmin(FakeApp):
    """WSGI app for one or many Virtualmin hosts (keyed by the request's Host)."""

    name = VIRTUALMIN

    def __init__(
        self,
        ledger: Ledger,
        now: Callable[[], datetime],
        faults: FaultInjector | None = None,
        *,
        servers: Iterable[str] | None = None,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        templates: Iterable[str] = DEFAULT_TEMPLATES,
        max_domains: int | None = None,
        attribution: Attribution | None = None,
        max_body_bytes: int | None = None,
    ) -> None:
        super().__init__(
            ledger, now, faults, attribution=attribution, max_body_bytes=max_body_bytes
        )
        if max_domains is not None and (
            not isinstance(max_domains, int) or isinstance(max_domains, bool) or max_domains < 0
        ):
            raise ValueError(f"max_domains must be a whole number, 0 or more, got {max_domains!r}")
        self.username = username
        self.password = password
        self.templates = tuple(templates)
        #: Domains each host holds before "server quota exceeded" (``None``: no limit).
        self.max_domains = max_domains
        #: ``None`` accepts any Host (created on first contact); a set refuses unknown hosts.
        self.allowed_hosts = None if servers is None else {h.lower() for h in servers}
        self.servers: dict[str, VirtualminServer] = {}
        for host in sorted(self.allowed_hosts or ()):
            self.server(host)

    def server(self, hostname: str) -> VirtualminServer:
        """The state of ``hostname`` (created if this fake accepts any host)."""
        host = hostname.lower()
        if host not in self.servers:
            self.servers[host] = VirtualminServer(
                host, templates=self.templates, max_domains=self.max_domains
            )
        return self.servers[host]

    def set_healthy(self, hostname: str, healthy: bool) -> None:
        """An unhealthy server answers every request with HTTP 503 (Webmin down behind a proxy)."""
        self.server(hostname).healthy = healthy

    # -- routing -----------------------------------------------------------------------------
    def route(self, request: Request) -> Call | Reply:
        args = request.args if request.method == "GET" else request.values
        program = args.get("program", "")
        host = (request.host or "localhost").rsplit(":", 1)[0].lower()
        detail: dict[str, Any] = {
            "host": host,
            "params": {k: v for k, v in sorted(args.items()) if k not in _REDACTED},
        }
        want_json = args.get("json") == "1"

        def fail(status: int, error: str) -> Reply:
            return self._envelope(program or None, False, error, status, want_json, detail=detail)

        if request.path != API_PATH:
            return fail(404, f"Error - File not found : {request.path}")
        if request.method not in ("GET", "POST"):
            reply = fail(405, f"Method {request.method} is not supported")
            reply.headers["Allow"] = "GET, POST"
            return reply
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            return fail(404, f"Unknown Virtualmin server {host}")
        if not program:
            return fail(200, "No program specified")
        if program not in VIRTUALMIN_OPERATIONS:
            return fail(200, f"Unknown program {program}")
        domain = args.get("domain")
        business_key = domain.lower() if domain else None

        def run() -> Reply:
            server = self.server(host)
            if not server.healthy:
                return self._envelope(
                    program,
                    False,
                    "Webmin server is not running or not accessible",
                    503,
                    want_json,
                )
            if not self._authorized(request):
                reply = self._envelope(
                    program, False, "Login failed : Invalid username or password", 401, want_json
                )
                reply.headers["WWW-Authenticate"] = 'Basic realm="Webmin Server"'
                return reply
            return self._dispatch(program, args, server, want_json)

        return Call(program, business_key, run, detail=detail, host=host)

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, pw = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.username and pw == self.password

    # -- programs ----------------------------------------------------------------------------
    def _dispatch(
        self, program: str, args: Any, server: VirtualminServer, want_json: bool
    ) -> Reply:
        def ok(output: str | None = None, data: Any = None, effect: str | None = None) -> Reply:
            return self._envelope(program, True, output, 200, want_json, data=data, effect=effect)

        def fail(error: str) -> Reply:
            return self._envelope(program, False, error, 200, want_json)

        if program == "info":
            return ok(data=self._info(server))
        if program == "list-templates":
            if "name-only" in args:
                return ok(data=[{"name": t} for t in server.templates])
            data = [{"name": t, "values": {"ID": [str(i)]}} for i, t in enumerate(server.templates)]
            return ok(data=data)
        if program == "list-domains":
            wanted = args.getlist("domain")
            domains = [d for n, d in sorted(server.domains.items()) if not wanted or n in wanted]
            if "name-only" in args:
                return ok(data=[{"name": d.name} for d in domains])
            return ok(data=[{"name": d.name, "values": _domain_values(d)} for d in domains])
        if program == "list-bandwidth":
            wanted = args.getlist("domain")
            for name in wanted:
                if name not in server.domains:
                    return fail(f"Virtual server {name} does not exist")
            names = wanted or sorted(server.domains)
            data = [_bandwidth(server.domains[n]) for n in names]
            return ok(data=data)

        domain = (args.get("domain") or "").strip().lower()
        if not domain:
            return fail(f"Missing required parameter : domain (program {program})")
        if program == "create-domain":
            return self._create(server, domain, args, ok, fail)
        existing = server.domains.get(domain)
        if existing is None:
            return fail(f"Virtual server {domain} does not exist")
        if program == "delete-domain":
            del server.domains[domain]
            return ok(f"Deleting virtual server {domain} ..\n.. done\n", effect=_MUTATING[program])
        if program == "disable-domain":
            if not existing.enabled:
                return fail(f"Virtual server {domain} is already disabled")
            existing.enabled = False
            return ok(f"Disabling virtual server {domain} ..\n.. done\n", effect=_MUTATING[program])
        # enable-domain
        if existing.enabled:
            return fail(f"Virtual server {domain} is not disabled")
        existing.enabled = True
        return ok(f"Enabling virtual server {domain} ..\n.. done\n", effect=_MUTATING[program])

    def _create(
        self,
        server: VirtualminServer,
        domain: str,
        args: Any,
        ok: Callable[..., Reply],
        fail: Callable[[str], Reply],
    ) -> Reply:
        if not _DOMAIN.match(domain):
            return fail(f"Invalid domain name : {domain}")
        for required in ("user", "pass"):
            if not args.get(required):
                return fail(f"Missing required parameter : {required} (program create-domain)")
        user = args["user"].strip()
        if not _USER.match(user):
            return fail(f"Invalid username : {user}")
        if domain in server.domains:
            return fail(f"Virtual server {domain} already exists")
        if any(d.user == user for d in server.domains.values()):
            return fail(f"A user named {user} already exists")
        template = args.get("template") or server.templates[0]
        if template not in server.templates:
            return fail(f"Template {template} does not exist")
        quota = _optional_int(args.get("quota"))
        bw_limit = _optional_int(args.get("bw-limit"))
        if quota is False or bw_limit is False:
            return fail("Quota and bandwidth limit must be whole numbers")
        if server.max_domains is not None and len(server.domains) >= server.max_domains:
            return fail(f"Cannot create virtual server {domain} - server quota exceeded")
        server.domains[domain] = VirtualDomain(
            name=domain,
            user=user,
            template=template,
            quota=quota or None,
            bw_limit=bw_limit or None,
            comment=args.get("comment"),
            created_at=self.now(),
        )
        output = (
            f"Creating virtual server {domain} ..\n"
            f".. home directory /home/{user}\n"
            f"  Creating Unix user {user} ..\n  .. done\n"
            f"  Creating Apache virtual host for {domain} ..\n  .. done\n"
            f"  Creating DNS zone for {domain} ..\n  .. done\n"
            f"Domain {domain} created successfully"
        )
        return ok(output, effect="domain.created")

    def _info(self, server: VirtualminServer) -> dict[str, Any]:
        return {
            "hostname": server.hostname,
            "os_type": "Debian Linux 12",
            "webmin_version": "2.105",
            "virtualmin_version": "7.10.0",
            "load_averages": "0.15 0.10 0.05",
            "real_memory": "8192 MB total, 4096 MB used",
            "virtual_memory": "4096 MB total, 512 MB used",
            "local_disk_space": "500 GB total, 200 GB used",
            "domains_count": len(server.domains),
            "system_uptime": "45 days, 3:22",
        }

    # -- envelopes ---------------------------------------------------------------------------
    def _envelope(
        self,
        program: str | None,
        success: bool,
        message: str | None,
        status: int,
        want_json: bool,
        *,
        data: Any = None,
        effect: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Reply:
        body: dict[str, Any] = {"command": program, "status": "success" if success else "failure"}
        if success:
            if data is not None:
                body["data"] = data
            else:
                body["output"] = message or ""
        else:
            body["error"] = message
        detail = dict(detail or {})
        if not success:
            detail["error"] = message
        if not want_json:
            names = "\n".join(str(d.get("name")) for d in data) if data is not None else None
            text = names if names is not None else (message or "")
            return Reply(status, text, effect=effect, detail=detail, operation=program, text=True)
        return Reply(status, body, effect=effect, detail=detail, operation=program)

    def error_reply(self, status: int, message: str, call: Call | None) -> Reply:
        return self._envelope(call.operation if call else None, False, message, status, True)

    def rate_limit_reply(self, fault: Fault, call: Call) -> Reply:
        reply = self.error_reply(
            429, fault.message or "Too many requests, please try again later", call
        )
        reply.headers["Retry-After"] = str(fault.retry_after or 0)
        return reply

    def unavailable_reply(self, fault: Fault, call: Call) -> Reply:
        return self.error_reply(
            503, fault.message or "Webmin server is not running or not accessible", call
        )


def _optional_int(value: str | None) -> int | bool | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        return False


def _mb(value: int | None) -> str:
    return "Unlimited" if not value else f"{value} MB"


def _domain_values(d: VirtualDomain) -> dict[str, Any]:
    return {
        "Username": d.user,
        "Template": d.template,
        "Disk space used": f"{d.disk_used_mb} MB",
        "Server byte quota": _mb(d.quota),
        "Bandwidth usage": f"{(d.bytes_in + d.bytes_out) // (1024 * 1024)} MB",
        "Bandwidth limit": _mb(d.bw_limit),
        "Features": "web dns mail mysql",
        "Comment": d.comment or "",
        "Status": "Enabled" if d.enabled else "Disabled",
    }


def _bandwidth(d: VirtualDomain) -> dict[str, Any]:
    return {
        "name": d.name,
        "values": {
            "Bytes in": str(d.bytes_in),
            "Bytes out": str(d.bytes_out),
            "Total bytes": str(d.bytes_in + d.bytes_out),
        },
    }
