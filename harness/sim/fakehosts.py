"""The addresses of the fakes' hosts: what a client that resolves and pins DNS gets.

SSRF-guarded clients (PRAHO's ``safe_request``, many billing and hosting code bases) resolve a
service's name themselves, refuse any address that is not globally routable, rewrite the URL
to the address and send the name in a ``Host`` header. While a simulation runs, each mounted
fake's host name therefore resolves to an address the harness owns, in **192.88.99.0/24**: the
former 6to4 relay anycast block (RFC 3068, deprecated by RFC 7526). Python's ``ipaddress``
calls it global (it is in no private, reserved or documentation range, so ``is_global`` checks
pass), nothing answers there any more, and no packet ever leaves: the network guard diverts a
connection to one of these addresses to a loopback server of the fake, or refuses it.

An address is a pure function of the host name (a hash into the block, the next free one on a
collision among the run's hosts, in the order they are added). Only IPv4: an AAAA lookup of a
fake's host finds nothing, as for a host without an AAAA record.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

BLOCK = ipaddress.IPv4Network("192.88.99.0/24")
DEFAULT_PORTS = {"http": 80, "https": 443}


def preferred_address(hostname: str) -> int:
    """The host's slot in the block (1–254) before collisions: a hash of the name."""
    digest = hashlib.blake2b(hostname.lower().encode("utf-8"), digest_size=4).digest()
    return 1 + int.from_bytes(digest, "big") % 254


@dataclass
class FakeHost:
    """One fake's host: its name, its address, its URL's scheme and port, the app."""

    hostname: str
    address: str
    scheme: str
    port: int
    app: Any
    served: Any = None  # harness.fakes.transport.ServedApp, started on the first connection

    def plain_ports(self) -> set[int]:
        """Ports where a client speaks plain HTTP to this host."""
        return {80} | ({self.port} if self.scheme == "http" else set())

    def tls_ports(self) -> set[int]:
        """Ports where a client would start TLS (the URL's https port, 443)."""
        return {443} | ({self.port} if self.scheme == "https" else set())


@dataclass
class FakeHosts:
    """Host name ↔ address of every fake mounted in a simulation; the loopback servers that
    answer connections to those addresses; which task attempt opened each connection."""

    by_name: dict[str, FakeHost] = field(default_factory=dict)
    by_address: dict[str, FakeHost] = field(default_factory=dict)
    _attempts: dict[int, tuple[str, int] | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, url: str, app: Any) -> str:
        """Own the host of ``url`` (served by ``app``); returns its address."""
        parts = urlsplit(url)
        name = (parts.hostname or "").lower()
        if name in self.by_name:
            return self.by_name[name].address
        slot = preferred_address(name)
        while str(BLOCK[slot]) in self.by_address:
            slot = slot % 254 + 1
            if len(self.by_address) >= 254:
                raise RuntimeError("more than 254 fake hosts in one simulation")
        address = str(BLOCK[slot])
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        host = FakeHost(name, address, parts.scheme, port, app)
        self.by_name[name] = host
        self.by_address[address] = host
        return address

    def named(self, name: str) -> FakeHost | None:
        return self.by_name.get(name.lower().rstrip("."))

    def at(self, address: str) -> FakeHost | None:
        return self.by_address.get(address)

    def served(self, host: FakeHost) -> int:
        """The loopback port answering for ``host`` (its server started on first use)."""
        from harness.fakes.transport import serve

        with self._lock:
            if host.served is None:
                host.served = serve(_Attributed(host.app, self, host.address), hold_seconds=0.0)
            return int(host.served.port)

    def remember(self, local_port: int, attempt: tuple[str, int] | None) -> None:
        """The task attempt that opened the connection from ``local_port``."""
        with self._lock:
            self._attempts[local_port] = attempt

    def attempt_of(self, local_port: int) -> tuple[str | None, int | None]:
        with self._lock:
            attempt = self._attempts.get(local_port)
        return (attempt[0], attempt[1]) if attempt else (None, None)

    def close(self) -> None:
        """Stop every loopback server and forget every address: they were owned for one run."""
        for host in self.by_name.values():
            if host.served is not None:
                host.served.stop()
                host.served = None
        self.by_name.clear()
        self.by_address.clear()
        self._attempts.clear()


class _Attributed:
    """The fake's app behind a loopback server: each request is attributed to the task
    attempt that opened its connection (the client's port, ``REMOTE_PORT``), since a raw
    socket client sends no attribution headers and the server runs in another thread."""

    def __init__(self, app: Any, hosts: FakeHosts, address: str) -> None:
        self.app = app
        self.hosts = hosts
        self.address = address

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        from harness.fakes.base import ENV_ADDRESS, ENV_ATTRIBUTION

        port = int(environ.get("REMOTE_PORT") or 0)
        environ[ENV_ATTRIBUTION] = lambda: self.hosts.attempt_of(port)
        environ[ENV_ADDRESS] = self.address
        return self.app(environ, start_response)
