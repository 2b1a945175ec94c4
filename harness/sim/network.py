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
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable, Iterable
from typing import Any

from harness.patching import Patches
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
    "redis",
)
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}


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
    """Refuse and record non-loopback connections while installed."""

    def __init__(
        self,
        on_refused: Callable[..., None],
        func_of: Callable[[str], str | None],
        allow: Iterable[str] = (),
    ) -> None:
        self.on_refused = on_refused
        self.func_of = func_of
        self.allow = {h.lower() for h in allow if h}
        self.patches = Patches()

    def _allowed(self, host: str) -> bool:
        return is_loopback(host) or host.lower() in self.allow

    def _refuse(self, host: str, port: Any) -> None:
        attempt = current_attempt.get()
        task = attempt[0] if attempt else None
        self.on_refused(
            "network refused",
            destination=f"{host}:{port}",
            client=_client(),
            task=task,
            func=self.func_of(task) if task else "(outside a task)",
        )

    def install(self) -> None:
        guard = self
        original_connect = socket.socket.connect
        original_connect_ex = socket.socket.connect_ex
        original_getaddrinfo = socket.getaddrinfo

        def target(sock: Any, address: Any) -> tuple[str, Any] | None:
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                return None  # Unix sockets and the like: local by nature
            host, port = address[0], address[1]
            return None if guard._allowed(str(host)) else (str(host), port)

        def connect(sock: Any, address: Any) -> Any:
            refused = target(sock, address)
            if refused is not None:
                guard._refuse(*refused)
                raise ConnectionRefusedError(
                    111, f"dq-harness: no network in a simulation ({refused[0]}:{refused[1]})"
                )
            return original_connect(sock, address)

        def connect_ex(sock: Any, address: Any) -> int:
            refused = target(sock, address)
            if refused is not None:
                guard._refuse(*refused)
                return 111  # ECONNREFUSED
            return original_connect_ex(sock, address)

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else str(host or "")
            if name and not guard._allowed(name):
                try:
                    ipaddress.ip_address(name.split("%")[0])
                except ValueError:  # a name, not an address: no lookup leaves the machine
                    guard._refuse(name, port)
                    raise socket.gaierror(
                        socket.EAI_NONAME, f"dq-harness: no network in a simulation ({name})"
                    ) from None
            return original_getaddrinfo(host, port, *args, **kwargs)

        reason = "no network in a simulation: refuse and record non-loopback connections"
        self.patches.set(socket.socket, "connect", connect, reason)
        self.patches.set(socket.socket, "connect_ex", connect_ex, reason)
        self.patches.set(socket, "getaddrinfo", getaddrinfo, reason)

    def uninstall(self) -> None:
        self.patches.undo()
