"""The network guard: during a simulation nothing leaves the machine, whatever the client.

The fakes answer ``requests`` in-process; any other way out — ``urllib``, ``http.client``,
``smtplib``, a raw socket, an SDK with its own HTTP stack — would reach the real network (or
hang on a machine without one) and make a run depend on the outside world. So while a
simulation is open every ``socket.connect`` to a non-loopback address, and every name lookup of
a non-local host, is refused (``ConnectionRefusedError`` / ``socket.gaierror``, which clients
treat like an unreachable host) and recorded as a finding naming the task, the client and the
destination. Loopback and Unix sockets stay open (PostgreSQL, Redis, fake servers), and so do
hosts the caller allows (a remote Redis broker). psycopg connects through libpq, in C, and is
not affected.

The fakes' hosts are the exception (:mod:`harness.sim.fakehosts`): their names resolve to
addresses the harness owns, and a plain-HTTP connection to one of those addresses is diverted
to a loopback server of the fake, so code that resolves and pins DNS itself reaches the fake.
TLS over a raw socket to such an address is refused with a finding that says why.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable, Iterable
from typing import Any

from harness.brokers import CLIENT_MODULES
from harness.patching import Patches
from harness.sim.fakehosts import FakeHost, FakeHosts
from harness.sim.patches import current_attempt

CLIENTS = (
    "smtplib",
    "urllib.request",
    "http.client",
    "ftplib",
    "imaplib",
    "poplib",
    "urllib3",
    "requests",
    "httpx",
    "aiohttp",
    *CLIENT_MODULES,  # the brokers' own clients (harness.brokers)
)
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}
_NODATA = getattr(socket, "EAI_NODATA", socket.EAI_NONAME)
_TLS_REASON = (
    "TLS over a raw socket to a fake: the harness cannot present a certificate your client "
    "trusts; send through requests (the fakes answer it in-process) or mount the fake at "
    "an http:// URL"
)


def is_loopback(host: str) -> bool:
    if host.lower() in _LOCAL_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _client() -> str:
    """The library that opened the connection: the outermost known client on the stack."""
    frame = sys._getframe(2)
    found = "socket"
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        for client in CLIENTS:
            if module == client or module.startswith(client + "."):
                found = client
        frame = frame.f_back
    return found


class NetworkGuard:
    """Refuse and record non-loopback connections while installed; answer for the fakes'
    hosts (:mod:`harness.sim.fakehosts`) with addresses it owns, and divert connections to
    those addresses to a loopback server of the fake."""

    def __init__(
        self,
        on_refused: Callable[..., None],
        func_of: Callable[[str], str | None],
        allow: Iterable[str] = (),
    ) -> None:
        self.on_refused = on_refused
        self.func_of = func_of
        self.allow = {h.lower() for h in allow if h}
        self.hosts = FakeHosts()
        self.patches = Patches()

    def _allowed(self, host: str) -> bool:
        return is_loopback(host) or host.lower() in self.allow

    def _refuse(self, host: str, port: Any, **why: Any) -> None:
        attempt = current_attempt.get()
        task = attempt[0] if attempt else None
        self.on_refused(
            "network refused",
            destination=host if port is None else f"{host}:{port}",
            client=_client(),
            task=task,
            func=self.func_of(task) if task else "(outside a task)",
            **why,
        )

    def own(self, url: str, app: Any) -> str:
        """While installed, the host of ``url`` resolves to an address the harness owns and a
        connection there reaches ``app``; returns the address."""
        return self.hosts.add(url, app)

    def _destination(self, sock: Any, address: Any) -> tuple[str, Any] | None:
        """Where a connect really goes: None (as asked), a loopback address (a fake's
        server), or raises after recording a refusal."""
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return None  # Unix sockets and the like: local by nature
        host, port = str(address[0]), address[1]
        if self._allowed(host):
            return None
        fake = self.hosts.at(host)
        if fake is None:
            self._refuse(host, port)
            raise ConnectionRefusedError(
                111, f"dq-harness: no network in a simulation ({host}:{port})"
            )
        if port in fake.plain_ports():
            return ("127.0.0.1", self.hosts.served(fake))
        reason = _TLS_REASON if port in fake.tls_ports() else f"no fake listens on port {port}"
        self._refuse(f"{fake.hostname} ({host})", port, reason=reason)
        raise ConnectionRefusedError(111, f"dq-harness: {reason} ({fake.hostname}:{port})")

    def _connected(self, sock: Any, diverted: tuple[str, Any] | None) -> None:
        """Remember who opened a diverted connection (also a non-blocking one, still under
        way: its local port is already bound)."""
        if diverted is None:
            return
        try:
            port = sock.getsockname()[1]
        except OSError:
            return
        if port:
            self.hosts.remember(port, current_attempt.get())

    def install(self) -> None:
        guard = self
        original_connect = socket.socket.connect
        original_connect_ex = socket.socket.connect_ex

        def connect(sock: Any, address: Any) -> Any:
            diverted = guard._destination(sock, address)
            try:
                return original_connect(sock, diverted or address)
            finally:  # a non-blocking connect raises BlockingIOError, under way
                guard._connected(sock, diverted)

        def connect_ex(sock: Any, address: Any) -> int:
            try:
                diverted = guard._destination(sock, address)
            except ConnectionRefusedError:
                return 111  # ECONNREFUSED
            try:
                return original_connect_ex(sock, diverted or address)
            finally:
                guard._connected(sock, diverted)

        reason = "no network in a simulation: refuse and record non-loopback connections"
        self.patches.set(socket.socket, "connect", connect, reason)
        self.patches.set(socket.socket, "connect_ex", connect_ex, reason)
        self._install_lookups()

    def _install_lookups(self) -> None:
        """Name lookups: a fake's host resolves to its address; other non-local names are
        refused (no lookup leaves the machine); addresses are answered as they are."""
        guard = self
        original_getaddrinfo = socket.getaddrinfo
        original_gethostbyname = socket.gethostbyname
        original_gethostbyname_ex = socket.gethostbyname_ex
        original_gethostbyaddr = socket.gethostbyaddr

        def getaddrinfo(
            host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
        ) -> Any:
            name = host.decode() if isinstance(host, bytes) else str(host or "")
            fake = guard._lookup(name, port)
            if fake is None:
                return original_getaddrinfo(host, port, family, type, proto, flags)
            if family not in (socket.AF_UNSPEC, socket.AF_INET):
                raise socket.gaierror(_NODATA, f"dq-harness: {name} has no IPv6 address")
            infos = original_getaddrinfo(
                fake.address, port, socket.AF_INET, type, proto, flags | socket.AI_NUMERICHOST
            )
            if flags & socket.AI_CANONNAME and infos:
                infos[0] = (*infos[0][:3], fake.hostname, infos[0][4])
            return infos

        def gethostbyname(name: str) -> str:
            fake = guard._lookup(name, None)
            return original_gethostbyname(name) if fake is None else fake.address

        def gethostbyname_ex(name: str) -> tuple[str, list[str], list[str]]:
            fake = guard._lookup(name, None)
            if fake is None:
                return original_gethostbyname_ex(name)
            return fake.hostname, [], [fake.address]

        def gethostbyaddr(address: str) -> tuple[str, list[str], list[str]]:
            fake = guard.hosts.at(address) or guard.hosts.named(address)
            if fake is None:
                return original_gethostbyaddr(address)
            return fake.hostname, [], [fake.address]

        reason = "no network in a simulation: the fakes' hosts resolve to harness addresses"
        self.patches.set(socket, "getaddrinfo", getaddrinfo, reason)
        self.patches.set(socket, "gethostbyname", gethostbyname, reason)
        self.patches.set(socket, "gethostbyname_ex", gethostbyname_ex, reason)
        self.patches.set(socket, "gethostbyaddr", gethostbyaddr, reason)

    def _lookup(self, name: str, port: Any) -> FakeHost | None:
        """The fake answering for ``name``; None to look it up as usual (a local name or an
        address); a refusal, recorded, for any other name."""
        if not name or self._allowed(name):
            return None
        fake = self.hosts.named(name)
        if fake is not None:
            return fake
        try:
            ipaddress.ip_address(name.split("%")[0])
            return None
        except ValueError:  # a name, not an address: no lookup leaves the machine
            self._refuse(name, port)
            raise socket.gaierror(
                socket.EAI_NONAME, f"dq-harness: no network in a simulation ({name})"
            ) from None

    def uninstall(self) -> None:
        self.patches.undo()
        self.hosts.close()
